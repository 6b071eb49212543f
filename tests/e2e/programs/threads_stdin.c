/* A thread blocked reading stdin does not hold up its siblings: they finish, say so, and only
 * then does the input arrive (the test writes it after seeing the first line). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int reader_done;
static char line[128];

static void *reader(void *arg)
{
	(void)arg;
	ssize_t n = read(0, line, sizeof line - 1);
	if (n > 0) line[n] = 0;
	reader_done = 1;
	return 0;
}

static void *worker(void *arg)
{
	volatile unsigned long x = 0;
	for (unsigned long i = 0; i < 100000; i++) x += i;
	return (void *)(long)!reader_done;
}

int main(void)
{
	pthread_t r, w[3];
	pthread_create(&r, 0, reader, 0);
	int early = 1;
	for (int i = 0; i < 3; i++) pthread_create(&w[i], 0, worker, 0);
	for (int i = 0; i < 3; i++) { void *v; pthread_join(w[i], &v); early &= (long)v == 1; }
	printf("workers done while the reader waited: %s\n", early ? "yes" : "no");
	fflush(stdout);
	pthread_join(r, 0);
	printf("reader got: %s", line);
	return 0;
}
