/* 8 threads each add 1 to a mutex-protected counter 100,000 times. */
#include <pthread.h>
#include <stdio.h>

#define THREADS 8
#define ROUNDS 100000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *work(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return 0;
}

int main(void)
{
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], 0, work, 0)) return 1;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], 0);
	printf("counter = %ld (expected %ld)\n", counter, (long)THREADS * ROUNDS);
	return counter == (long)THREADS * ROUNDS ? 0 : 2;
}
