/* lind-musl wasm32: the set of bytes strspn and strcspn test against, as two 64-bit words
 * (bytes 0-127) held in locals. musl's generic versions clear a 32-byte table on the stack
 * (linear memory) and set a bit in it per set member on every call; short calls (Lua's
 * string.format spans its flags with strspn twice per conversion) are mostly that set-up.
 * A set with a byte above 127 (rare) uses the table. */
#ifndef LIND_BYTESET_H
#define LIND_BYTESET_H

#include <stddef.h>
#include <stdint.h>

struct byteset {
	uint64_t w[2];
};

/* The set of the bytes of c (its NUL excluded); 0 when c has a byte above 127. */
static inline int byteset_make(struct byteset *b, const unsigned char *c)
{
	b->w[0] = b->w[1] = 0;
	for (; *c; c++) {
		if (*c >= 128) return 0;
		b->w[*c >> 6] |= 1ull << (*c & 63);
	}
	return 1;
}

/* Whether byte x (any value) is in the set; NUL never is. */
static inline int byteset_has(const struct byteset *b, unsigned x)
{
	return x < 128 && (b->w[x >> 6] >> (x & 63) & 1);
}

/* The same for any set, as a 256-bit table (a set with bytes above 127). */
struct bytetable {
	uint64_t w[4];
};

static inline void bytetable_make(struct bytetable *t, const unsigned char *c)
{
	t->w[0] = t->w[1] = t->w[2] = t->w[3] = 0;
	for (; *c; c++) t->w[*c >> 6] |= 1ull << (*c & 63);
}

static inline int bytetable_has(const struct bytetable *t, unsigned x)
{
	return t->w[x >> 6] >> (x & 63) & 1;
}

#endif
