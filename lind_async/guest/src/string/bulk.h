/* lind-musl wasm32: the shared core of memcpy, memmove and memset.
 *
 * musl's generic C versions copy and fill four bytes per loop iteration; in a cage every loop
 * iteration also pays wasmtime's epoch check. Cage modules always have bulk memory, so a block
 * of BULK_MIN bytes or more is one memory.copy / memory.fill instruction (wasmtime's builtin:
 * the host's memmove/memset after one bounds check; __builtin_memcpy/memset compile to those
 * instructions with -mbulk-memory, never to a call back into these functions). Shorter blocks
 * are a few unaligned 8-, 4- or 1-byte loads and stores that may overlap one another, with no
 * loop: every load is done before the first store, so an overlapping memmove is right too. */
#ifndef LIND_BULK_H
#define LIND_BULK_H

#include <stddef.h>
#include <stdint.h>

/* Below this many bytes, loads and stores beat wasmtime's memory.copy/memory.fill call. */
#define BULK_MIN 32

typedef uint64_t __attribute__((__may_alias__, __aligned__(1))) lind_u64u;
typedef uint32_t __attribute__((__may_alias__, __aligned__(1))) lind_u32u;

static inline __attribute__((always_inline))
void lind_move_small(unsigned char *d, const unsigned char *s, size_t n)
{
	if (n >= 16) {          /* 16..31: four overlapping 8-byte words */
		uint64_t a = *(const lind_u64u *)s, b = *(const lind_u64u *)(s + 8);
		uint64_t c = *(const lind_u64u *)(s + n - 16), e = *(const lind_u64u *)(s + n - 8);
		*(lind_u64u *)d = a;
		*(lind_u64u *)(d + 8) = b;
		*(lind_u64u *)(d + n - 16) = c;
		*(lind_u64u *)(d + n - 8) = e;
	} else if (n >= 8) {    /* 8..15 */
		uint64_t a = *(const lind_u64u *)s, b = *(const lind_u64u *)(s + n - 8);
		*(lind_u64u *)d = a;
		*(lind_u64u *)(d + n - 8) = b;
	} else if (n >= 4) {    /* 4..7 */
		uint32_t a = *(const lind_u32u *)s, b = *(const lind_u32u *)(s + n - 4);
		*(lind_u32u *)d = a;
		*(lind_u32u *)(d + n - 4) = b;
	} else if (n) {         /* 1..3 */
		unsigned char a = s[0], b = s[n / 2], c = s[n - 1];
		d[0] = a;
		d[n / 2] = b;
		d[n - 1] = c;
	}
}

static inline __attribute__((always_inline))
void lind_move(void *dest, const void *src, size_t n)
{
	if (n >= BULK_MIN)
		__builtin_memmove(dest, src, n);   /* memory.copy */
	else
		lind_move_small(dest, src, n);
}

#endif
