/* lind-musl wasm32: setjmp as a real function.
 *
 * Programs never call it: clang's SjLj lowering (see longjmp.c) replaces
 * every setjmp call in code built by cc.  Code built without the lowering
 * still links and runs; its setjmp returns 0 and records an id no invocation
 * owns, so a longjmp to it ends the program with an uncaught wasm exception
 * (a trap) instead of jumping somewhere wrong. */
#include <setjmp.h>

#undef _setjmp

int (setjmp)(jmp_buf env)
{
	*(unsigned *)env = 0;
	return 0;
}

int (_setjmp)(jmp_buf env)
{
	*(unsigned *)env = 0;
	return 0;
}
