/* Thread-local storage: __thread variables, pthread keys with destructors, distinct tids. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#define THREADS 6
static __thread int counter = 100;
static __thread char name[16] = "main";
static __thread long big[64];
static pthread_key_t key;
static int destructed;
static long tids[THREADS + 1];
static int errnos_ok[THREADS];

static void destroy(void *p) { __atomic_fetch_add(&destructed, 1, __ATOMIC_SEQ_CST); free(p); }

static void *work(void *arg)
{
	int me = (int)(long)arg;
	snprintf(name, sizeof name, "worker%d", me);
	for (int i = 0; i < 1000 * (me + 1); i++) counter++;
	for (int i = 0; i < 64; i++) big[i] += me;
	int *mine = malloc(sizeof *mine);
	*mine = me * 7;
	pthread_setspecific(key, mine);
	tids[me] = syscall(SYS_gettid);
	errno = me;
	usleep(1000);
	errnos_ok[me] = errno == me;
	long result = counter * 1000 + *(int *)pthread_getspecific(key) + big[63];
	printf("%s: counter %d\n", name, counter);
	return (void *)result;
}

int main(void)
{
	pthread_t t[THREADS];
	pthread_key_create(&key, destroy);
	for (long i = 0; i < THREADS; i++) {
		pthread_create(&t[i], 0, work, (void *)i);
		void *r;
		pthread_join(t[i], &r);
		printf("thread %ld returned %ld\n", i, (long)r);
	}
	tids[THREADS] = syscall(SYS_gettid);
	int distinct = 1;
	for (int i = 0; i <= THREADS; i++)
		for (int j = 0; j < i; j++) distinct &= tids[i] != tids[j];
	int errno_ok = 1;
	for (int i = 0; i < THREADS; i++) errno_ok &= errnos_ok[i];
	printf("main: %s counter %d big %ld\n", name, counter, big[63]);
	printf("tids distinct: %s, main tid is pid: %s\n", distinct ? "yes" : "no",
	       tids[THREADS] == getpid() ? "yes" : "no");
	printf("errno per thread: %s, destructors run: %d\n", errno_ok ? "yes" : "no", destructed);
	return 0;
}
