/* A thread asleep in nanosleep does not hold up its siblings. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static volatile int sleeper_done;
static int finished_early[4];

static void *sleeper(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 400 * 1000 * 1000};
	nanosleep(&ts, 0);
	sleeper_done = 1;
	return 0;
}

static void *worker(void *arg)
{
	int me = (int)(long)arg;
	volatile unsigned long x = 0;
	for (unsigned long i = 0; i < 200000; i++) x += i;
	finished_early[me] = !sleeper_done;
	return 0;
}

int main(void)
{
	pthread_t s, w[4];
	pthread_create(&s, 0, sleeper, 0);
	for (long i = 0; i < 4; i++) pthread_create(&w[i], 0, worker, (void *)i);
	for (int i = 0; i < 4; i++) pthread_join(w[i], 0);
	int all = 1;
	for (int i = 0; i < 4; i++) all &= finished_early[i];
	printf("workers finished while the sleeper slept: %s\n", all ? "yes" : "no");
	pthread_join(s, 0);
	printf("sleeper done: %d\n", sleeper_done);
	return 0;
}
