/* lind-musl wasm32: strlen eight bytes per step. musl's generic version tests a size_t (four
 * bytes on wasm32) per loop iteration; wasm has native 64-bit loads, and in a cage each
 * iteration also pays wasmtime's epoch check, so the wider word about halves the time on long
 * strings. An aligned 8-byte load never crosses a page (or the end of linear memory) that the
 * string's own bytes do not reach. */
#include <string.h>
#include <stdint.h>

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define HASZERO(x) (((x) - ONES) & ~(x) & HIGHS)

size_t strlen(const char *s)
{
	const char *a = s;
	typedef uint64_t __attribute__((__may_alias__)) word;
	const word *w;
	for (; (uintptr_t)s % sizeof(word); s++) if (!*s) return s - a;
	for (w = (const void *)s; !HASZERO(*w); w++);
	for (s = (const void *)w; *s; s++);
	return s - a;
}
