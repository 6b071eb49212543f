/* lind-musl wasm32: snprintf with a short path for a format that is one decimal integer alone
 * ("%d", "%i", "%ld", "%lld" ...), which is how interpreters and serialisers turn every integer
 * into text (Lua: each integer key built by "k" .. i, each string.format("%d")). musl's path is
 * vsnprintf, a FILE set up over the buffer, vfprintf and printf_core twice (a dry run for
 * positional arguments, then the output), about ten nested calls, each paying wasm's stack and
 * epoch checks at entry: several times what the conversion itself costs. Any other format, and
 * any flag, width or precision, takes musl's path, whose output this one matches byte for byte
 * (tests/e2e/programs/strings.c compares both with glibc's). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The length of "%d" &c. written to s (at most n-1 bytes and a NUL), or -1 when fmt is not a
 * lone integer conversion (nothing read from ap then). */
static int lone_integer(char *restrict s, size_t n, const char *restrict fmt, va_list *ap)
{
	if (fmt[0] != '%') return -1;
	int longs = 0;
	const char *f = fmt + 1;
	while (*f == 'l' && longs < 2) f++, longs++;
	if ((*f != 'd' && *f != 'i') || f[1]) return -1;
	long long v = longs == 2 ? va_arg(*ap, long long)
		: longs == 1 ? va_arg(*ap, long) : va_arg(*ap, int);
	unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
	char digits[24], *end = digits + sizeof digits, *p = end;
	if (u >> 32) {
		do *--p = '0' + u % 10; while ((u /= 10) >> 32);
	}
	for (unsigned w = (unsigned)u; ; ) {  /* 32-bit divisions from here */
		*--p = '0' + w % 10;
		if (!(w /= 10)) break;
	}
	if (v < 0) *--p = '-';
	size_t len = end - p;
	if (n) {
		size_t k = len < n ? len : n - 1;
		memcpy(s, p, k);
		s[k] = 0;
	}
	return (int)len;
}

int snprintf(char *restrict s, size_t n, const char *restrict fmt, ...)
{
	int ret;
	va_list ap;
	va_start(ap, fmt);
	ret = lone_integer(s, n, fmt, &ap);
	if (ret < 0) ret = vsnprintf(s, n, fmt, ap);
	va_end(ap);
	return ret;
}
