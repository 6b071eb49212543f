/* Timed waits (futex timeouts): sem_timedwait, pthread_cond_timedwait and
 * pthread_mutex_timedlock time out with ETIMEDOUT after about the time asked for,
 * and a timed wait that is woken in time succeeds. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static struct timespec in_ms(clockid_t clock, long ms)
{
	struct timespec t;
	clock_gettime(clock, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += ms % 1000 * 1000000L;
	if (t.tv_nsec >= 1000000000L) { t.tv_sec++; t.tv_nsec -= 1000000000L; }
	return t;
}

static const char *about(double took, double want)
{
	return took >= want - 0.005 && took < want + 1.0 ? "on time" : "WRONG TIME";
}

static sem_t s;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;

static void *poster(void *arg)
{
	(void)arg;
	usleep(30000);
	sem_post(&s);
	return 0;
}

static void *holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&held);
	usleep(300000);
	pthread_mutex_unlock(&held);
	return 0;
}

int main(void)
{
	sem_init(&s, 0, 0);
	double t0 = now();
	struct timespec at = in_ms(CLOCK_REALTIME, 100);
	int r = sem_timedwait(&s, &at);
	printf("sem_timedwait: %d %s, %s\n", r, errno == ETIMEDOUT ? "ETIMEDOUT" : "?", about(now() - t0, 0.1));

	pthread_t p;
	pthread_create(&p, 0, poster, 0);
	at = in_ms(CLOCK_REALTIME, 5000);
	r = sem_timedwait(&s, &at);
	printf("sem_timedwait woken in time: %d\n", r);
	pthread_join(p, 0);

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c, &ca);
	pthread_mutex_lock(&m);
	t0 = now();
	at = in_ms(CLOCK_MONOTONIC, 80);
	r = pthread_cond_timedwait(&c, &m, &at);
	pthread_mutex_unlock(&m);
	printf("cond_timedwait: %s, %s\n", r == ETIMEDOUT ? "ETIMEDOUT" : "?", about(now() - t0, 0.08));

	pthread_create(&p, 0, holder, 0);
	usleep(20000);
	t0 = now();
	at = in_ms(CLOCK_REALTIME, 60);
	r = pthread_mutex_timedlock(&held, &at);
	printf("mutex_timedlock: %s, %s\n", r == ETIMEDOUT ? "ETIMEDOUT" : "?", about(now() - t0, 0.06));
	pthread_join(p, 0);
	printf("mutex free again: %d\n", pthread_mutex_trylock(&held));
	return 0;
}
