/* lind-musl wasm32: __clone as the clone system call, and the entry point
 * every new thread runs.
 *
 * musl calls __clone(func, stack, flags, arg, ptid, tls, ctid) (the last
 * three only when flags ask for them).  It becomes one clone call (Linux
 * x86_64 number 56) whose first five slots are the kernel's own order and
 * whose sixth carries what a wasm thread needs to start:
 *
 *     clone(flags, stack, ptid, ctid, tls, func | (uint64_t)arg << 32)
 *
 * func is a function pointer, i.e. an index into the module's indirect
 * function table, and arg a linear-memory address; both are 32 bits.  The
 * parent gets the new thread's id (or -errno).
 *
 * The runtime runs the child as a new instance of the same module over the
 * same shared memory, with __stack_pointer set to stack (aligned down to 16)
 * and calls its export __lind_thread_start(func, arg, tls).  With a thread
 * pointer (CLONE_SETTLS), that gives the instance its own TLS block -- the
 * one musl's pthread_create reserved below the thread pointer, dtv[1], see
 * src/env/__init_tls.c -- through wasm-ld's __wasm_init_tls, and sets the
 * thread pointer; without one (a vfork-style child) the child keeps the
 * initial block, i.e. shares the main thread's TLS as it shares its memory.
 * Then it runs func(arg) and exits the thread with its result, as the
 * assembly __clone of other archs does -- through the C++ runtime's
 * __lind_entry_guard when the program has one (see crt1.c), so that a C++
 * exception leaving the thread's function (or its pthread_exit's destructors)
 * calls std::terminate instead of trapping. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <sched.h>
#include "pthread_impl.h"
#include "syscall.h"

void __wasm_init_tls(void *);
int __lind_entry_guard(int (*)(void *), void *) __attribute__((__weak__));

int __clone(int (*func)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	void *ptid = 0, *tls = 0, *ctid = 0;

	if (flags & (CLONE_PARENT_SETTID | CLONE_SETTLS | CLONE_CHILD_SETTID
	             | CLONE_CHILD_CLEARTID)) {
		va_start(ap, arg);
		ptid = va_arg(ap, void *);
		tls = va_arg(ap, void *);
		ctid = va_arg(ap, void *);
		va_end(ap);
	}
	return __syscall(SYS_clone, (unsigned)flags, stack, ptid, ctid, tls,
		(unsigned long)func | (unsigned long long)(unsigned long)arg << 32);
}

__attribute__((__export_name__("__lind_thread_start")))
void __lind_thread_start(int (*func)(void *), void *arg, struct pthread *tp)
{
	int code;

	if (tp) {
		__wasm_init_tls((void *)tp->dtv[1]);
		__set_thread_area(tp);
	}
	code = __lind_entry_guard ? __lind_entry_guard(func, arg) : func(arg);
	for (;;) __syscall(SYS_exit, code);
}
