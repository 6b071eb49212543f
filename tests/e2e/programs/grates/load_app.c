/* `load_app euid N`: N geteuid calls, each checked (the grate answers 4242).
 * `load_app threads T N`: T threads each make N calls of the grate's call
 * 2000 with (thread, i) and check each answer against the grate's formula. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SYS_mix 2000

static long per_thread;
static uint64_t me;

static long expected(uint64_t t, uint64_t i)
{
	return (long)(((t << 20) ^ (i * 2654435761u) ^ me) & 0x3fffffff);
}

static void *worker(void *arg)
{
	uint64_t t = (uintptr_t)arg;
	long good = 0;
	for (long i = 0; i < per_thread; i++)
		good += syscall(SYS_mix, (long)t, i) == expected(t, (uint64_t)i);
	return (void *)(uintptr_t)good;
}

int main(int argc, char **argv)
{
	me = getpid();
	if (argc == 3 && !strcmp(argv[1], "euid")) {
		long n = atol(argv[2]), good = 0;
		for (long i = 0; i < n; i++) good += geteuid() == 4242;
		printf("geteuid: %ld of %ld correct\n", good, n);
		return good == n ? 0 : 1;
	}
	if (argc == 4 && !strcmp(argv[1], "threads")) {
		int nthreads = atoi(argv[2]);
		pthread_t th[64];
		long total = 0;
		per_thread = atol(argv[3]);
		for (int t = 0; t < nthreads; t++)
			pthread_create(&th[t], 0, worker, (void *)(uintptr_t)t);
		for (int t = 0; t < nthreads; t++) {
			void *good;
			pthread_join(th[t], &good);
			if ((long)(uintptr_t)good != per_thread)
				printf("thread %d: %ld of %ld correct\n", t, (long)(uintptr_t)good, per_thread);
			total += (long)(uintptr_t)good;
		}
		printf("threads: %ld of %ld correct\n", total, nthreads * per_thread);
		return total == nthreads * per_thread ? 0 : 1;
	}
	fprintf(stderr, "usage: load_app euid N | threads T N\n");
	return 2;
}
