/* fork cost: `fork_loop N HEAP_MB` forks N children (each exits at once, the parent waits for it)
 * with HEAP_MB MiB of touched heap, and prints the mean ms per fork+exit+wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	size_t heap = (argc > 2 ? atoi(argv[2]) : 0) * (size_t)(1 << 20);
	char *p = heap ? malloc(heap) : 0;
	if (p)
		memset(p, 1, heap);
	__asm__ volatile("" : : "r"(p) : "memory");  /* the heap is really written */
	double start = 0;
	for (int i = -1; i < n; i++) {  /* i == -1: one untimed round (first-call setup) */
		if (i == 0)
			start = now_ms();
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, 0, 0) != pid)
			return 1;
	}
	double ms = (now_ms() - start) / n;
	for (size_t i = 0; i < heap; i += 4096)  /* read the heap back: a compiler may drop a */
		if (p[i] != 1)                       /* malloc+memset nobody reads (clang does) */
			return 2;
	printf("%.3f\n", ms);
	return 0;
}
