/* Thread costs: `thread_create N` prints mean microseconds for
 *   create+join    pthread_create + pthread_join of a thread that returns at once
 *   condvar-handoff  one hand-off between two threads through a condition variable
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void *nothing(void *arg) { return arg; }

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static long turn, rounds;

static void *pong(void *arg)
{
	long me = (long)arg;
	pthread_mutex_lock(&m);
	for (long i = 0; i < rounds; i++) {
		while (turn != me) pthread_cond_wait(&c, &m);
		turn = !me;
		pthread_cond_signal(&c);
	}
	pthread_mutex_unlock(&m);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	pthread_t t, u;
	double start = now_us();
	for (long i = 0; i < n; i++) {
		pthread_create(&t, 0, nothing, 0);
		pthread_join(t, 0);
	}
	printf("create+join %.1f us\n", (now_us() - start) / n);
	rounds = n * 10;
	start = now_us();
	pthread_create(&t, 0, pong, (void *)0);
	pthread_create(&u, 0, pong, (void *)1);
	pthread_join(t, 0);
	pthread_join(u, 0);
	printf("condvar-handoff %.1f us\n", (now_us() - start) / (2 * rounds));
	return 0;
}
