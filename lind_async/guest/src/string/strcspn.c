/* lind-musl wasm32: strcspn with its set in two 64-bit locals (byteset.h). */
#define _GNU_SOURCE
#include <string.h>
#include "byteset.h"

size_t strcspn(const char *s, const char *c)
{
	const unsigned char *p = (const void *)s, *q = (const void *)c;
	if (!q[0] || !q[1]) return (size_t)(strchrnul(s, *c) - s);
	struct byteset b;
	if (byteset_make(&b, q)) {
		for (; *p && !byteset_has(&b, *p); p++);
	} else {
		struct bytetable t;
		bytetable_make(&t, q);
		for (; *p && !bytetable_has(&t, *p); p++);
	}
	return p - (const unsigned char *)s;
}
