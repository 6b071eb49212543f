/* lind-musl wasm32: strspn with its set in two 64-bit locals (byteset.h). */
#include <string.h>
#include "byteset.h"

size_t strspn(const char *s, const char *c)
{
	const unsigned char *p = (const void *)s, *q = (const void *)c;
	if (!q[0]) return 0;
	if (!q[1]) {
		for (; *p == *q; p++);
		return p - (const unsigned char *)s;
	}
	struct byteset b;
	if (byteset_make(&b, q)) {
		for (; byteset_has(&b, *p); p++);
	} else {
		struct bytetable t;
		bytetable_make(&t, q);
		for (; *p && bytetable_has(&t, *p); p++);
	}
	return p - (const unsigned char *)s;
}
