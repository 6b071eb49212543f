/* lind-musl wasm32: sigsetjmp placeholder (see setjmp/setjmp.c). */
#include <setjmp.h>

int sigsetjmp(sigjmp_buf env, int savemask)
{
	(void)env;
	(void)savemask;
	return 0;
}
