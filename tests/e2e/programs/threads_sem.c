/* Semaphores: ping-pong between two threads, and a counting semaphore guarding a pool. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

#define ROUNDS 5000
static sem_t ping, pong, pool;
static int in_pool, max_in_pool, trace[ROUNDS * 2], pos;

static void *pinger(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) { sem_wait(&ping); trace[pos++] = 1; sem_post(&pong); }
	return 0;
}

static void *ponger(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) { sem_wait(&pong); trace[pos++] = 2; sem_post(&ping); }
	return 0;
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *user(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		sem_wait(&pool);
		pthread_mutex_lock(&m);
		if (++in_pool > max_in_pool) max_in_pool = in_pool;
		pthread_mutex_unlock(&m);
		sched_yield();
		pthread_mutex_lock(&m);
		in_pool--;
		pthread_mutex_unlock(&m);
		sem_post(&pool);
	}
	return 0;
}

int main(void)
{
	pthread_t a, b, u[6];
	sem_init(&ping, 0, 1);
	sem_init(&pong, 0, 0);
	pthread_create(&a, 0, pinger, 0);
	pthread_create(&b, 0, ponger, 0);
	pthread_join(a, 0);
	pthread_join(b, 0);
	int alternating = 1;
	for (int i = 0; i < ROUNDS * 2; i++) alternating &= trace[i] == 1 + (i & 1);
	printf("ping-pong rounds %d, alternating %s\n", pos / 2, alternating ? "yes" : "no");

	sem_init(&pool, 0, 2);
	for (int i = 0; i < 6; i++) pthread_create(&u[i], 0, user, 0);
	for (int i = 0; i < 6; i++) pthread_join(u[i], 0);
	int v;
	sem_getvalue(&pool, &v);
	printf("pool never above 2: %s, final value %d\n", max_in_pool <= 2 ? "yes" : "no", v);
	printf("trywait on empty: %d\n", sem_trywait(&pong) == 0 ? 0 : -1);
	return 0;
}
