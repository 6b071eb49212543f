/* lind-musl wasm32: process entry point.
 *
 * Like Linux, the runtime starts a process by writing an initial stack image
 * just below the initial __stack_pointer and pointing __stack_pointer at it
 * (16-byte aligned):
 *
 *     sp ->  argc, argv[0..argc-1], 0, envp[...], 0, auxv (type, value)..., AT_NULL, 0
 *
 * (32-bit little-endian words; the strings and the AT_RANDOM bytes live
 * above).  _start reads __stack_pointer before anything is pushed (the
 * function has no shadow-stack frame of its own) and hands the image to
 * musl's __libc_start_main, exactly as musl's _start_c(long *p) does.
 *
 * main: for wasm32-unknown-unknown, clang 18 emits `int main(void)` as
 * __original_main plus a two-argument `main(argc, argv)` wrapper, and keeps
 * the source signature of `main(argc, argv)` and `main(argc, argv, envp)`.
 * musl calls main through a pointer with three arguments, and a wasm call
 * traps on a signature mismatch, so the crt calls main with the shape the
 * program defined, through an adapter of the exact type musl expects.  This
 * file is built twice: crt1.o for a two-argument main (the common case) and,
 * with -DLIND_MAIN_ENVP, crt1-envp.o for a three-argument main; the cc driver
 * links the second one when wasm-ld reports that main has three parameters.
 *
 * Constructors: wasm-ld collects them into __wasm_call_ctors instead of an
 * .init_array; musl calls _init() after it has initialised itself, so _init
 * runs them.
 *
 * C++: both exports run their work through __lind_entry_guard when the
 * program has one (the C++ runtime's, linked by lind-c++): a C++ exception
 * that nobody catches then calls std::terminate, as a native program's failed
 * search for a handler does, instead of leaving the module as a trap.  Around
 * __libc_start_main it covers main of either shape and everything exit runs
 * after main returns (atexit handlers, static destructors). */
#include <stddef.h>

int __libc_start_main(int (*)(int, char **, char **), int, char **,
	void (*)(void), void (*)(void), void (*)(void));

#ifdef LIND_MAIN_ENVP
int main(int, char **, char **);
#define CALL_MAIN(argc, argv, envp) main(argc, argv, envp)
#else
int main(int, char **);
#define CALL_MAIN(argc, argv, envp) ((void)(envp), main(argc, argv))
#endif

void __wasm_call_ctors(void);

/* fn(arg), with an uncaught C++ exception calling std::terminate; weak and
 * undefined (null) in a C program. The same hook guards __lind_thread_start. */
int __lind_entry_guard(int (*fn)(void *), void *arg) __attribute__((__weak__));

static int __lind_main(int argc, char **argv, char **envp)
{
	return CALL_MAIN(argc, argv, envp);
}

void _init(void)
{
	__wasm_call_ctors();
}

static int __lind_start_c(void *image)
{
	long *p = image;
	int argc = p[0];
	char **argv = (void *)(p + 1);
	return __libc_start_main(__lind_main, argc, argv, _init, 0, 0);
}

__attribute__((__noinline__)) static void __lind_start(long *p)
{
	if (__lind_entry_guard)
		__lind_entry_guard(__lind_start_c, p);
	else
		__lind_start_c(p);
}

__asm__(".globaltype __stack_pointer, i32");

void _start(void)
{
	long *p;
	__asm__ __volatile__(
		"global.get __stack_pointer\n\t"
		"local.set %0"
		: "=r"(p));
	__lind_start(p);
}

/* Signal delivery: the runtime runs a guest handler by calling this export on
 * a separate instance over the cage's memory, on the cage's signal stack.
 * `handler` is a function-table index (a C function pointer on wasm32); an
 * SA_SIGINFO handler takes (signo, siginfo_t *, ucontext *), built by the
 * runtime at `info`. */
struct __lind_sighandler_call {
	void *handler;
	int signo, with_info;
	void *info;
};

static int __lind_call_sighandler(void *arg)
{
	struct __lind_sighandler_call *c = arg;
	if (c->with_info)
		((void (*)(int, void *, void *))c->handler)(c->signo, c->info, 0);
	else
		((void (*)(int))c->handler)(c->signo);
	return 0;
}

__attribute__((__export_name__("__lind_run_sighandler")))
void __lind_run_sighandler(void *handler, int signo, int with_info, void *info)
{
	struct __lind_sighandler_call c = { handler, signo, with_info, info };
	if (__lind_entry_guard)
		__lind_entry_guard(__lind_call_sighandler, &c);
	else
		__lind_call_sighandler(&c);
}
