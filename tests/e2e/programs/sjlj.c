/* setjmp/longjmp: out of nested calls, repeatedly, with value 0, between two jump buffers, and
 * _setjmp/_longjmp. */
#include <setjmp.h>
#include <stdio.h>

static jmp_buf outer, inner;
static int calls;

__attribute__((noinline)) static void dive(int depth, int value)
{
	calls++;
	if (depth == 0)
		longjmp(outer, value);
	dive(depth - 1, value);
	printf("never printed\n");
}

__attribute__((noinline)) static int middle(void)
{
	volatile int local = 5;
	int r = setjmp(inner);
	if (r == 0) {
		local = 6;
		dive(3, 0); /* jumps to outer, passing over this frame */
	}
	return local + r;
}

int main(void)
{
	volatile int rounds = 0;
	int r = setjmp(outer);
	printf("setjmp returned %d after %d rounds (%d calls)\n", r, rounds, calls);
	if (rounds < 4) {
		rounds++;
		dive(10, rounds * 10);
	}
	if (rounds == 4) {
		rounds++;
		middle();
	}

	jmp_buf b;
	volatile int n = 0;
	if (_setjmp(b) < 3) {
		n++;
		_longjmp(b, n);
	}
	printf("_setjmp loop ran %d times\n", n);
	return 0;
}
