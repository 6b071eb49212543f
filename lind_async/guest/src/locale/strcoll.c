/* lind-musl wasm32: strcoll. musl collates every locale as the C locale does, i.e. by
 * strcmp; here the comparison loop is strcoll's own instead of a call to __strcoll_l and from
 * there to strcmp (each call in wasm pays a stack check and wasmtime's epoch check at entry;
 * table.sort in Lua compares strings with strcoll). */
#include <locale.h>
#include <string.h>

static int byte_order(const char *l, const char *r)
{
	const unsigned char *a = (const void *)l, *b = (const void *)r;
	for (; *a == *b && *a; a++, b++);
	return *a - *b;
}

int __strcoll_l(const char *l, const char *r, locale_t loc)
{
	(void)loc;
	return byte_order(l, r);
}

int strcoll(const char *l, const char *r)
{
	return byte_order(l, r);
}

weak_alias(__strcoll_l, strcoll_l);
