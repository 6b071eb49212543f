/* The futex system call itself: value mismatch, relative and absolute timeouts (both clocks),
 * bitset wake-ups, and the count FUTEX_WAKE returns. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* <linux/futex.h> values (lind-musl ships no linux/ headers) */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY 0xffffffff

static int word;

static long futex(int *addr, int op, int val, const struct timespec *to, int val3)
{
	return syscall(SYS_futex, addr, op, val, to, 0, val3);
}

static const char *err(long r) { return r == 0 ? "0" : errno == EAGAIN ? "EAGAIN" : errno == ETIMEDOUT ? "ETIMEDOUT" : "other"; }

static struct timespec in_ms(clockid_t clock, long ms)
{
	struct timespec t;
	clock_gettime(clock, &t);
	t.tv_nsec += ms * 1000000L;
	while (t.tv_nsec >= 1000000000L) { t.tv_sec++; t.tv_nsec -= 1000000000L; }
	return t;
}

static void *waker(void *arg)
{
	(void)arg;
	usleep(30000);
	long a = futex(&word, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 1, 0, 4);  /* nobody waits on 4 */
	usleep(10000);
	__atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
	long b = futex(&word, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 1, 0, 2);
	return (void *)(a * 10 + b);
}

int main(void)
{
	struct timespec rel = {0, 50 * 1000000L};
	printf("wrong value: %s\n", err(futex(&word, FUTEX_WAIT, 1, 0, 0)));
	printf("relative timeout: %s\n", err(futex(&word, FUTEX_WAIT_PRIVATE, 0, &rel, 0)));
	struct timespec abs = in_ms(CLOCK_MONOTONIC, 50);
	printf("absolute monotonic: %s\n", err(futex(&word, FUTEX_WAIT_BITSET, 0, &abs, FUTEX_BITSET_MATCH_ANY)));
	abs = in_ms(CLOCK_REALTIME, 50);
	printf("absolute realtime: %s\n",
	       err(futex(&word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 0, &abs, FUTEX_BITSET_MATCH_ANY)));
	errno = 0;
	printf("zero bitset: %s\n", futex(&word, FUTEX_WAIT_BITSET, 0, 0, 0) == -1 && errno == EINVAL ? "EINVAL" : "?");
	printf("wake with no waiters: %ld\n", futex(&word, FUTEX_WAKE, 5, 0, 0));

	pthread_t t;
	void *woke;
	pthread_create(&t, 0, waker, 0);
	long r = futex(&word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, 0, 3);
	pthread_join(t, &woke);
	printf("bitset wait: %s, wakes counted %ld, word %d\n", err(r), (long)woke, word);
	return 0;
}
