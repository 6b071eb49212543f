/* lind-musl wasm32: memset as memory.fill from BULK_MIN bytes, overlapping stores below (see
 * bulk.h). */
#include <string.h>
#include "bulk.h"

void *memset(void *dest, int c, size_t n)
{
	unsigned char *d = dest;
	if (n >= BULK_MIN) {
		__builtin_memset(dest, c, n);   /* memory.fill */
		return dest;
	}
	uint64_t w = (unsigned char)c * 0x0101010101010101ull;
	if (n >= 16) {
		*(lind_u64u *)d = w;
		*(lind_u64u *)(d + 8) = w;
		*(lind_u64u *)(d + n - 16) = w;
		*(lind_u64u *)(d + n - 8) = w;
	} else if (n >= 8) {
		*(lind_u64u *)d = w;
		*(lind_u64u *)(d + n - 8) = w;
	} else if (n >= 4) {
		*(lind_u32u *)d = (uint32_t)w;
		*(lind_u32u *)(d + n - 4) = (uint32_t)w;
	} else if (n) {
		d[0] = (unsigned char)c;
		d[n / 2] = (unsigned char)c;
		d[n - 1] = (unsigned char)c;
	}
	return dest;
}
