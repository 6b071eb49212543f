/* lind-musl wasm32: the variadic syscall(2) entry point.
 *
 * Callers pass int/long/pointer arguments, which are 32 bits on wasm32, so
 * each is read as a long and sign-extended (not as musl's 64-bit
 * syscall_arg_t, which would misread a 32-bit vararg).  A 64-bit argument
 * must be split by the caller, as on 32-bit Linux.  (syscall(SYS_fork) is
 * passed on as call 57; only fork() uses the lind.fork import.) */
#define _BSD_SOURCE
#include <unistd.h>
#include <stdarg.h>
#include "syscall.h"

#undef syscall

long syscall(long n, ...)
{
	va_list ap;
	long a, b, c, d, e, f;
	va_start(ap, n);
	a = va_arg(ap, long);
	b = va_arg(ap, long);
	c = va_arg(ap, long);
	d = va_arg(ap, long);
	e = va_arg(ap, long);
	f = va_arg(ap, long);
	va_end(ap);
	return __syscall_ret(__lind_syscall(n, a, b, c, d, e, f));
}
