/* lind-musl wasm32: memcpy as memory.copy (see bulk.h). */
#include <string.h>
#include "bulk.h"

void *memcpy(void *restrict dest, const void *restrict src, size_t n)
{
	lind_move(dest, src, n);
	return dest;
}
