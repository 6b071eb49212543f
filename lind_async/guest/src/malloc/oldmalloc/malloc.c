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
 *   skips the bin and split/merge locks. From the first pthread_create on they are atomic. */
#include "atomic.h"
#include "libc.h"

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

#include "../malloc/oldmalloc/malloc.c"

#undef malloc
#undef realloc
#undef free

weak_alias(__libc_malloc_impl, malloc);
weak_alias(__libc_realloc, realloc);
weak_alias(__libc_free, free);
