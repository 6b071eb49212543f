/* lind-musl wasm32: memmove as memory.copy, which has memmove's semantics (see bulk.h). */
#include <string.h>
#include "bulk.h"

void *memmove(void *dest, const void *src, size_t n)
{
	lind_move(dest, src, n);
	return dest;
}
