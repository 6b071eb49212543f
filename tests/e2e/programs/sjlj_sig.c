/* sigsetjmp/siglongjmp restore the signal mask saved at sigsetjmp (when asked to); longjmp
 * after a system call that suspended the cage (nanosleep). */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

static sigjmp_buf env;

static int blocked(int sig)
{
	sigset_t now;
	sigprocmask(SIG_BLOCK, 0, &now);
	return sigismember(&now, sig);
}

static void block(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_BLOCK, &s, 0);
}

__attribute__((noinline)) static void sleep_then_jump(int value)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, 0);
	siglongjmp(env, value);
}

int main(void)
{
	if (sigsetjmp(env, 1) == 0) {
		block(SIGUSR1);
		printf("saved mask: before jump USR1 blocked %d\n", blocked(SIGUSR1));
		siglongjmp(env, 1);
	}
	printf("savemask=1: after jump USR1 blocked %d\n", blocked(SIGUSR1));

	block(SIGUSR2);
	if (sigsetjmp(env, 0) == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, 0);
		block(SIGTERM);
		siglongjmp(env, 1);
	}
	printf("savemask=0: after jump TERM blocked %d USR2 blocked %d\n", blocked(SIGTERM),
	       blocked(SIGUSR2));

	volatile int jumps = 0;
	int r = sigsetjmp(env, 1);
	if (jumps < 3) {
		jumps++;
		sleep_then_jump(jumps * 100);
	}
	printf("after sleeping, longjmp delivered %d (jumps %d)\n", r, jumps);
	return 0;
}
