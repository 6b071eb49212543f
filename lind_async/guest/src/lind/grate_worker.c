/* lind-musl: a thread descriptor for each grate worker.
 *
 * A grate serves many calls at once, each on a worker: an instance of the
 * grate's module over its memory (threei/wasm_grates.py).  Before a worker
 * runs its first handler the runtime calls this export on it, with the
 * worker's stack in place, __tls_base pointing at the main thread's block,
 * and a fresh thread id.  Like __lind_thread_start for a pthread, it gives the
 * worker a TLS block and a struct pthread of its own -- so errno, the stdio
 * lock owner and pthread keys are per worker -- in an anonymous mapping laid
 * out as pthread_create lays out a thread's (TLS area, then the key slots).
 *
 * Concurrent handlers are threads as far as libc is concerned: the first
 * worker switches libc to its multi-threaded mode (stdio and malloc locks),
 * as a first pthread_create does, and every worker counts as a thread so a
 * pthread exiting in the grate never switches locking off.  Workers are not
 * on musl's thread list: they are never signalled, joined or synccalled.
 * Returns 0 or -errno. */
#include <string.h>
#include <sys/mman.h>
#include "pthread_impl.h"
#include "stdio_impl.h"
#include "libc.h"
#include "syscall.h"

void __wasm_init_tls(void *);

static FILE *volatile dummy_file = 0;
weak_alias(dummy_file, __stdin_used);
weak_alias(dummy_file, __stdout_used);
weak_alias(dummy_file, __stderr_used);

static void init_file_lock(FILE *f)
{
	if (f && f->lock < 0) f->lock = 0;
}

__attribute__((__export_name__("__lind_grate_worker_init")))
int __lind_grate_worker_init(int tid)
{
	struct pthread *self = __pthread_self(), *td;
	size_t tsd_size = sizeof(void *) * PTHREAD_KEYS_MAX;
	size_t size = libc.tls_size + tsd_size;
	long r = __syscall(SYS_mmap, 0, size, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *mem;

	if ((unsigned long)r > -4096UL) return (int)r;
	mem = (void *)r;
	memset(mem, 0, size);
	if (!libc.threaded) {
		for (FILE *f = *__ofl_lock(); f; f = f->next) init_file_lock(f);
		__ofl_unlock();
		init_file_lock(__stdin_used);
		init_file_lock(__stdout_used);
		init_file_lock(__stderr_used);
		libc.threaded = 1;
	}
	a_inc(&libc.threads_minus_1);
	libc.need_locks = 1;

	td = __copy_tls(mem);
	td->self = td;
	td->tsd = (void **)(mem + libc.tls_size);
	td->locale = &libc.global_locale;
	td->detach_state = DT_DETACHED;
	td->robust_list.head = &td->robust_list.head;
	td->canary = self->canary;
	td->sysinfo = self->sysinfo;
	td->tid = tid;
	td->next = td->prev = td;
	__wasm_init_tls((void *)td->dtv[1]);
	__set_thread_area(td);
	return 0;
}
