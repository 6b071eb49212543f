/* Bounded-buffer producers/consumers on one mutex and two condition variables. */
#include <pthread.h>
#include <stdio.h>

#define SLOTS 4
#define ITEMS 20000
#define PRODUCERS 2
#define CONSUMERS 3

static int buf[SLOTS], head, tail, count, produced_done;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg)
{
	int base = (int)(long)arg * ITEMS;
	for (int i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&m);
		while (count == SLOTS) pthread_cond_wait(&not_full, &m);
		buf[tail] = base + i;
		tail = (tail + 1) % SLOTS;
		count++;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&m);
	}
	pthread_mutex_lock(&m);
	produced_done++;
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&m);
	return 0;
}

static long long total, items;
static pthread_mutex_t tm = PTHREAD_MUTEX_INITIALIZER;

static void *consumer(void *arg)
{
	long long sum = 0, n = 0;
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&m);
		while (count == 0 && produced_done < PRODUCERS) pthread_cond_wait(&not_empty, &m);
		if (count == 0) { pthread_mutex_unlock(&m); break; }
		sum += buf[head];
		head = (head + 1) % SLOTS;
		count--;
		n++;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&m);
	}
	pthread_mutex_lock(&tm);
	total += sum;
	items += n;
	pthread_mutex_unlock(&tm);
	return 0;
}

int main(void)
{
	pthread_t p[PRODUCERS], c[CONSUMERS];
	for (int i = 0; i < CONSUMERS; i++) pthread_create(&c[i], 0, consumer, 0);
	for (int i = 0; i < PRODUCERS; i++) pthread_create(&p[i], 0, producer, (void *)(long)i);
	for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], 0);
	for (int i = 0; i < CONSUMERS; i++) pthread_join(c[i], 0);
	long long n = (long long)PRODUCERS * ITEMS;
	printf("consumed %lld items, sum %lld (expected %lld)\n", items, total, n * (n + 1) / 2);
	return 0;
}
