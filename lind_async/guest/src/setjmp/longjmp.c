/* lind-musl wasm32: longjmp placeholder (see setjmp.c): jumping is not
 * supported yet, so the process reports it and aborts. */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include "syscall.h"

_Noreturn void longjmp(jmp_buf env, int val)
{
	static const char msg[] = "lind-musl: longjmp is not supported yet\n";
	(void)env;
	(void)val;
	__syscall(SYS_write, 2, msg, sizeof msg - 1);
	abort();
}

_Noreturn void _longjmp(jmp_buf env, int val)
{
	longjmp(env, val);
}
