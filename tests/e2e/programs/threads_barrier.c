/* Phases separated by a barrier: each phase reads what every thread wrote in the last one. */
#include <pthread.h>
#include <stdio.h>

#define THREADS 5
#define PHASES 200

static pthread_barrier_t barrier;
static long cell[THREADS];
static long seen[THREADS];
static int serial_count;

static void *work(void *arg)
{
	int me = (int)(long)arg;
	for (int phase = 0; phase < PHASES; phase++) {
		cell[me] = (long)phase * 10 + me;
		if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_fetch_add(&serial_count, 1, __ATOMIC_SEQ_CST);
		long sum = 0;
		for (int i = 0; i < THREADS; i++) sum += cell[i];
		seen[me] += sum;
		pthread_barrier_wait(&barrier);
	}
	return 0;
}

int main(void)
{
	pthread_t t[THREADS];
	pthread_barrier_init(&barrier, 0, THREADS);
	for (long i = 0; i < THREADS; i++) pthread_create(&t[i], 0, work, (void *)i);
	for (int i = 0; i < THREADS; i++) pthread_join(t[i], 0);
	for (int i = 0; i < THREADS; i++) printf("thread %d saw %ld\n", i, seen[i]);
	printf("serial threads: %d\n", serial_count);
	pthread_barrier_destroy(&barrier);
	return 0;
}
