/* lind-musl wasm32: the thread pointer and the TLS area of each thread.
 *
 * wasm has no ELF program headers, so musl's PT_TLS search has nothing to
 * find.  A module's thread-local variables are instead the linker's TLS
 * segment: __builtin_wasm_tls_size() bytes aligned to
 * __builtin_wasm_tls_align(), addressed through the per-instance global
 * __tls_base.  The main thread uses the block wasm-ld placed in the data
 * area (its instance's __tls_base points there from the start).
 *
 * Every other thread is its own instance over the shared memory and needs a
 * block of its own.  musl already carves an area for "static TLS + struct
 * pthread" out of each new thread's mapping (__copy_tls, TLS below the
 * thread pointer as on x86_64); here that area is sized for one wasm TLS
 * block.  main_tls describes the block with no image (len 0): nothing is
 * copied by __copy_tls, because the new thread fills the block itself with
 * __wasm_init_tls, which writes the initial .tdata/.tbss contents and points
 * its __tls_base at it (see __lind_thread_start in src/thread/clone.c).
 * dtv[1] of a thread is the address of its block. */
#define SYSCALL_NO_TLS 1
#include <stddef.h>
#include <sys/mman.h>
#include "pthread_impl.h"
#include "libc.h"
#include "syscall.h"

volatile int __thread_list_lock;

int __init_tp(void *p)
{
	pthread_t td = p;
	td->self = td;
	if (__set_thread_area(TP_ADJ(p)) < 0) return -1;
	libc.can_do_threads = 1;
	td->detach_state = DT_JOINABLE;
	td->tid = __syscall(SYS_set_tid_address, &__thread_list_lock);
	td->locale = &libc.global_locale;
	td->robust_list.head = &td->robust_list.head;
	td->sysinfo = __sysinfo;
	td->next = td->prev = td;
	return 0;
}

/* The main thread's area when it is small enough (no mmap at start-up). */
static struct builtin_tls {
	char c;
	struct pthread pt;
	void *space[16];
} builtin_tls[1];
#define MIN_TLS_ALIGN offsetof(struct builtin_tls, pt)

static struct tls_module main_tls;

/* Lay out a thread's area at mem (libc.tls_size bytes): the dtv at the
 * bottom, struct pthread at the top (aligned down), the TLS block right
 * below it.  Returns the struct pthread. */
void *__copy_tls(unsigned char *mem)
{
	uintptr_t *dtv = (uintptr_t *)mem;
	unsigned char *top = mem + libc.tls_size - sizeof(struct pthread);
	pthread_t td = (pthread_t)(top - ((uintptr_t)top & (libc.tls_align - 1)));
	struct tls_module *m;
	size_t i = 1;

	for (m = libc.tls_head; m; m = m->next, i++)
		dtv[i] = (uintptr_t)td - m->offset;
	dtv[0] = libc.tls_cnt;
	td->dtv = dtv;
	return td;
}

static void wasm_init_tls(size_t *aux)
{
	size_t align = __builtin_wasm_tls_align();
	size_t size = __builtin_wasm_tls_size();
	void *mem;

	(void)aux;
	if (align < MIN_TLS_ALIGN) align = MIN_TLS_ALIGN;
	size = (size + align - 1) & -align;
	main_tls.size = size;
	main_tls.align = align;
	main_tls.offset = size;
	libc.tls_head = &main_tls;
	libc.tls_cnt = 1;
	libc.tls_align = align;
	libc.tls_size = (2 * sizeof(void *) + sizeof(struct pthread) + size + align
		+ MIN_TLS_ALIGN - 1) & -MIN_TLS_ALIGN;

	if (libc.tls_size > sizeof builtin_tls)
		mem = (void *)__syscall(SYS_mmap, 0, libc.tls_size,
			PROT_READ|PROT_WRITE, MAP_ANONYMOUS|MAP_PRIVATE, -1, 0);
	else
		mem = builtin_tls;

	if (__init_tp(__copy_tls(mem)) < 0)
		a_crash();
}

weak_alias(wasm_init_tls, __init_tls);
