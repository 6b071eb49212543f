/* lind-musl wasm32: musl's oldmalloc, compiled as one unit with its public entry points.
 *
 * The allocator itself is musl's own src/malloc/oldmalloc/malloc.c, included unchanged (the
 * include resolves through musl's src/include directory, which is on libc's include path). Two
 * things differ from musl's build of it, both for the cost of calls and atomics in wasm:
 *
 * - free and realloc are (weak) aliases of the allocator's own functions here, instead of
 *   one-line wrappers in their own files (musl's src/malloc/free.c and realloc.c; the guest's
 *   files of those names are empty): in wasm every call pays a stack check and wasmtime's epoch
 *   check at the callee's entry, and a program's free was two such calls deep before reaching
 *   __bin_chunk. malloc is a weak alias too; lite_malloc.c's weak malloc (a wrapper) may be the
 *   one the linker keeps, which is as before. Being weak, all three still give way to a
 *   program's own malloc/free/realloc, as musl's wrappers did.
 * - the bin map's updates (one 64-bit atomic read-modify-write when a bin empties or fills,
 *   a compare-exchange loop in wasmtime's x86 code) are plain read-modify-writes while the
 *   process has one thread (libc.need_locks == 0): the same condition under which musl already
 *   skips the bin and split/merge locks. From the first pthread_create on they are atomic.
 *
 * Three more keep the allocator from handing memory to the microvisor and taking it back, which
 * natively costs a cheap system call and in a cage a trip through 3i into the runtime and, for
 * memory given back, page faults and zeroing when it is used again (glibc's malloc, the native
 * baseline, keeps such memory too: its mmap threshold and trim threshold grow with use). Lua's
 * benchmark made 2,739 brk, 91 madvise, 51 mmap, 51 munmap and 25 mremap calls at scale 4; now
 * 16, 0, 15, 7 and 11, and 36 % fewer page faults:
 *
 * - the break moves ahead of the heap (lind_heap_brk): oldmalloc grows the heap by the page or
 *   few it needs at a time, each a brk; the break is now set a quarter of the heap beyond
 *   (256 KiB to 8 MiB) and later growth within it costs no call. Pages past the heap's end are
 *   only reserved: nothing touches them. When that brk is refused, the exact one is tried.
 * - free chunks are given back (MADV_DONTNEED over their middle) from 16 MiB rather than
 *   160 KiB (LIND_RECLAIM): a program that frees and allocates again in a loop no longer faults
 *   the same pages in every round.
 * - freed mmapped chunks (those above oldmalloc's 112 KiB threshold) are kept, up to
 *   LIND_KEEP_SLOTS regions and LIND_KEEP_BYTES in all, and serve a later mmapped chunk of the
 *   size or up to twice as large, or realloc's growth of one (copied, as a moving mremap
 *   would); a chunk realloc shrinks keeps its region. calloc still gets zeros: a kept region
 *   is marked (its first word, below the chunk header, holds its length; a fresh mapping's is
 *   0), and __malloc_allzerop answers no for it, so calloc clears it. When an mmap fails
 *   (a cage's memory limit), the kept regions are given back and it is tried once more.
 *   When oldmalloc's heap cannot grow by brk it takes an mmapped region (never freed) the same
 *   way; a kept region larger than it asked for then stays whole with the heap. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdint.h>
#include <errno.h>
#include <sys/mman.h>
#include "libc.h"
#include "atomic.h"
#include "pthread_impl.h"
#include "../malloc/oldmalloc/malloc_impl.h"
#include "fork_impl.h"
#include "syscall.h"

static inline void lind_binmap_or(volatile unsigned long long *p, unsigned long long v)
{
	if (libc.need_locks) __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
	else *p |= v;
}

static inline void lind_binmap_and(volatile unsigned long long *p, unsigned long long v)
{
	if (libc.need_locks) __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
	else *p &= v;
}

/* oldmalloc's only 64-bit atomics are its bin-map updates */
#undef a_or_64
#undef a_and_64
#define a_or_64 lind_binmap_or
#define a_and_64 lind_binmap_and

#define LIND_RECLAIM ((size_t)16 << 20)
#define LIND_KEEP_SLOTS 8
#define LIND_KEEP_BYTES ((size_t)32 << 20)

/* The break, moved ahead of the heap in steps (see the top of this file); oldmalloc's only
 * system call, so its __syscall is this (it asks brk(0) once, then brk(end) to grow). */
#define LIND_BRK_MIN_STEP ((size_t)256 << 10)
#define LIND_BRK_MAX_STEP ((size_t)8 << 20)

static uintptr_t lind_brk_start, lind_brk_end;

static long lind_heap_brk(uintptr_t want)
{
	if (!want) {
		long cur = __syscall(SYS_brk, 0);
		if (!lind_brk_end) lind_brk_start = lind_brk_end = cur;
		return cur;
	}
	if (want <= lind_brk_end && want >= lind_brk_start) return want;
	size_t step = (lind_brk_end - lind_brk_start) / 4;
	if (step < LIND_BRK_MIN_STEP) step = LIND_BRK_MIN_STEP;
	if (step > LIND_BRK_MAX_STEP) step = LIND_BRK_MAX_STEP;
	if (want > lind_brk_end && step < UINTPTR_MAX - want) {
		uintptr_t ahead = want + step;
		ahead += -ahead & PAGE_SIZE-1;
		if (__syscall(SYS_brk, ahead) == (long)ahead) {
			lind_brk_end = ahead;
			return want;
		}
	}
	long got = __syscall(SYS_brk, want);
	if (got == (long)want) lind_brk_end = want;
	return got;
}

#undef __syscall
#define __syscall(nr, arg) lind_heap_brk(arg)

#undef RECLAIM
#define RECLAIM LIND_RECLAIM

static void *lind_chunk_mmap(void *, size_t, int, int, int, off_t);
static int lind_chunk_munmap(void *, size_t);
static void *lind_chunk_mremap(void *, size_t, size_t, int);
#define __mmap lind_chunk_mmap
#define __munmap lind_chunk_munmap
#define __mremap lind_chunk_mremap
#define __malloc_allzerop lind_oldmalloc_allzerop
#define __malloc_atfork lind_oldmalloc_atfork

#include "../malloc/oldmalloc/malloc.c"

#undef __mmap
#undef __munmap
#undef __mremap
#undef __malloc_allzerop
#undef __malloc_atfork

/* Freed mmapped chunks kept for reuse (see the top of this file). A region's first word, which
 * oldmalloc leaves unused (its chunk header starts SIZE_ALIGN-OVERHEAD bytes in), is 0 in a fresh
 * host mapping and otherwise the region's real length: a kept region serves a smaller request
 * whole, and realloc grows a chunk into the rest of its region without moving it. */
static struct { char *base; size_t len; } lind_kept[LIND_KEEP_SLOTS];
static size_t lind_kept_bytes;
static volatile int lind_kept_lock[2];

static size_t lind_region_len(void *base, size_t len)
{
	size_t real = *(size_t *)base;
	return real > len ? real : len;
}

/* The smallest kept region of at least len bytes (and at most twice that), taken and marked, or
 * 0. */
static char *lind_take_kept(size_t len)
{
	int best = -1;
	char *found = 0;
	if (len > LIND_KEEP_BYTES) return 0;
	lock(lind_kept_lock);
	for (int i = 0; i < LIND_KEEP_SLOTS; i++) {
		size_t have = lind_kept[i].len;
		if (lind_kept[i].base && have >= len && have / 2 <= len
		    && (best < 0 || have < lind_kept[best].len))
			best = i;
	}
	if (best >= 0) {
		found = lind_kept[best].base;
		*(size_t *)found = lind_kept[best].len;
		lind_kept_bytes -= lind_kept[best].len;
		lind_kept[best].base = 0;
	}
	unlock(lind_kept_lock);
	return found;
}

/* Every kept region given back to the system; whether there was one. */
static int lind_release_kept(void)
{
	int released = 0;
	lock(lind_kept_lock);
	for (int i = 0; i < LIND_KEEP_SLOTS; i++) {
		if (lind_kept[i].base) {
			__munmap(lind_kept[i].base, lind_kept[i].len);
			lind_kept[i].base = 0;
			released = 1;
		}
	}
	lind_kept_bytes = 0;
	unlock(lind_kept_lock);
	return released;
}

static void *lind_chunk_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	char *kept = addr ? 0 : lind_take_kept(len);
	if (kept) return kept;
	void *p = __mmap(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED && lind_release_kept())  /* out of memory: kept regions first */
		p = __mmap(addr, len, prot, flags, fd, off);
	return p;
}

static int lind_chunk_munmap(void *base, size_t len)
{
	size_t real = lind_region_len(base, len);
	if (real <= LIND_KEEP_BYTES) {
		lock(lind_kept_lock);
		if (lind_kept_bytes + real <= LIND_KEEP_BYTES) {
			for (int i = 0; i < LIND_KEEP_SLOTS; i++) {
				if (!lind_kept[i].base) {
					lind_kept[i].base = base;
					lind_kept[i].len = real;
					lind_kept_bytes += real;
					unlock(lind_kept_lock);
					return 0;
				}
			}
		}
		unlock(lind_kept_lock);
	}
	return __munmap(base, real);
}

static void *lind_chunk_mremap(void *old, size_t oldlen, size_t newlen, int flags)
{
	size_t real = lind_region_len(old, oldlen);
	if (newlen <= real) {  /* within its region: stays where it is */
		*(size_t *)old = real;
		return old;
	}
	char *kept = lind_take_kept(newlen);
	if (!kept) {
		char *moved = __mremap(old, real, newlen, flags);
		if (moved != MAP_FAILED) *(size_t *)moved = newlen;
		return moved;
	}
	memcpy(kept + sizeof(size_t), (char *)old + sizeof(size_t), oldlen - sizeof(size_t));
	lind_chunk_munmap(old, real);
	return kept;
}

int __malloc_allzerop(void *p)
{
	struct chunk *c = MEM_TO_CHUNK(p);
	return IS_MMAPPED(c) && !*(size_t *)((char *)c - c->psize);
}

/* fork from a threaded process: the kept regions' lock too is taken before the fork (after
 * oldmalloc's, the order in which malloc nests them) and released, or reset in the child. */
void __malloc_atfork(int who)
{
	if (who < 0) {
		lind_oldmalloc_atfork(who);
		lock(lind_kept_lock);
	} else if (!who) {
		unlock(lind_kept_lock);
		lind_oldmalloc_atfork(who);
	} else {
		lind_kept_lock[0] = lind_kept_lock[1] = 0;
		lind_oldmalloc_atfork(who);
	}
}

#undef malloc
#undef realloc
#undef free

weak_alias(__libc_malloc_impl, malloc);
weak_alias(__libc_realloc, realloc);
weak_alias(__libc_free, free);
