/* lind-musl wasm32: setjmp placeholder.
 *
 * wasm cannot save and restore a call stack from C.  Real setjmp/longjmp
 * will use wasm exception handling (clang -mllvm -wasm-enable-sjlj) with a
 * small runtime; until then setjmp records nothing and returns 0, so code
 * that sets a jump point but never jumps keeps working. */
#include <setjmp.h>

int setjmp(jmp_buf env)
{
	(void)env;
	return 0;
}

int _setjmp(jmp_buf env)
{
	(void)env;
	return 0;
}
