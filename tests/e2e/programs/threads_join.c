/* Join values (return and pthread_exit), detached threads, many short-lived threads. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

static sem_t done;
static int detached_ran;

static void *returns(void *arg) { return (void *)((long)arg * 3); }
static void *exits(void *arg) { pthread_exit((void *)((long)arg + 1000)); return 0; }

static void *detached(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&detached_ran, 1, __ATOMIC_SEQ_CST);
	sem_post(&done);
	return 0;
}

int main(void)
{
	pthread_t t;
	void *r;
	pthread_create(&t, 0, returns, (void *)14);
	pthread_join(t, &r);
	printf("returned %ld\n", (long)r);
	pthread_create(&t, 0, exits, (void *)7);
	pthread_join(t, &r);
	printf("pthread_exit gave %ld\n", (long)r);

	sem_init(&done, 0, 0);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < 20; i++) {
		if (i % 2) {
			pthread_create(&t, &attr, detached, 0);
		} else {
			pthread_create(&t, 0, detached, 0);
			pthread_detach(t);
		}
	}
	for (int i = 0; i < 20; i++) sem_wait(&done);
	printf("detached threads ran: %d\n", detached_ran);

	long sum = 0;
	for (long i = 0; i < 300; i++) {
		pthread_create(&t, 0, returns, (void *)i);
		pthread_join(t, &r);
		sum += (long)r;
	}
	printf("300 create+join, sum %ld\n", sum);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_JOINABLE);
	pthread_create(&t, &attr, returns, (void *)5);
	pthread_join(t, &r);
	printf("small stack returned %ld\n", (long)r);
	return 0;
}
