/* setjmp/longjmp cost and the cost of the SjLj lowering on ordinary code:
 * `sjlj_loop jump N` does N setjmp+longjmp pairs, `sjlj_loop calls N` N plain calls in a function
 * that also calls setjmp once (the lowering wraps its calls); prints ns per iteration. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static jmp_buf jb;
static volatile long sink;

__attribute__((noinline)) static void leaf(long i)
{
	sink += i;
}

__attribute__((noinline)) static void jump(long i)
{
	longjmp(jb, (int)(i & 0xff) + 1);
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 100000;
	int jumps = argc > 1 && strcmp(argv[1], "jump") == 0;
	volatile long i = 0;
	double start = now_ns();
	if (setjmp(jb) == 0 || i < n) {
		if (jumps) {
			if (i < n) {
				i++;
				jump(i);
			}
		} else {
			for (; i < n; i++)
				leaf(i);
		}
	}
	printf("%.1f\n", (now_ns() - start) / n);
	return 0;
}
