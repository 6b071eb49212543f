/* siglongjmp out of signal handlers, and what must still work afterwards.
 * 1. A handler run at a system call's return (a blocking read, pause, sleep interrupted by
 *    SIGALRM) siglongjmps back, three times in a row: each later wait is interrupted and its
 *    handler runs (after a longjmp the handler must count as ended).
 * 2. A handler delivered while the program computes (a busy loop with no system call) siglongjmps
 *    back: from a loop in a called function, and from a loop inline in the sigsetjmp function.
 * 3. A handler delivered while the program computes forks; the child exits, the parent reaps it.
 * 4. longjmp (no mask restore) out of a handler leaves the signal blocked, as on Linux.
 * 5. siglongjmp out of a handler delivered under sigsuspend's and ppoll's temporary masks. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf env;
static jmp_buf plain;
static volatile unsigned long spins;
static volatile sig_atomic_t stop, forked_child, child_status = -1;

static void jump(int s) { siglongjmp(env, s); }
static void plain_jump(int s) { longjmp(plain, s + 100); }

static void fork_in_handler(int s)
{
	(void)s;
	pid_t p = fork();
	if (p == 0) {
		forked_child = 1;
		stop = 1;
		return; /* the child returns from the handler into the loop */
	}
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	child_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	stop = 1;
}

static void arm(int ms)
{
	struct itimerval it = {{0, 0}, {0, ms * 1000}};
	setitimer(ITIMER_REAL, &it, 0);
}

static int alrm_blocked(void)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, 0, &cur);
	return sigismember(&cur, SIGALRM);
}

__attribute__((noinline)) static void spin_in_callee(void)
{
	while (!stop)
		spins++;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = jump;
	sigaction(SIGALRM, &sa, 0);
	int p[2];
	pipe(p);
	for (int round = 0; round < 3; round++) {
		int v = sigsetjmp(env, 1);
		if (v == 0) {
			arm(30);
			char c;
			if (round == 0)
				read(p[0], &c, 1);
			else if (round == 1)
				pause();
			else
				sleep(5);
			printf("round %d: the wait returned\n", round);
		}
		printf("round %d: out of the handler with %d, ALRM blocked %d\n", round, v,
		       alrm_blocked());
	}

	int v = sigsetjmp(env, 1);
	if (v == 0) {
		arm(30);
		spin_in_callee();
		printf("not reached\n");
	}
	printf("busy loop in a callee: out with %d, ALRM blocked %d\n", v, alrm_blocked());

	stop = 0;
	v = sigsetjmp(env, 1);
	if (v == 0) {
		arm(30);
		while (!stop)
			spins++;
		printf("not reached\n");
	}
	printf("busy loop inline: out with %d, ALRM blocked %d\n", v, alrm_blocked());

	sa.sa_handler = fork_in_handler;
	sigaction(SIGALRM, &sa, 0);
	stop = 0;
	arm(30);
	spin_in_callee();
	if (forked_child)
		_exit(42);
	printf("fork in a handler that interrupted a busy loop: child exited %d\n", child_status);

	sa.sa_handler = plain_jump;
	sigaction(SIGALRM, &sa, 0);
	v = setjmp(plain);
	if (v == 0) {
		arm(30);
		pause();
	}
	printf("longjmp out of a handler: %d, ALRM still blocked %d\n", v, alrm_blocked());

	sa.sa_handler = jump;
	sigaction(SIGUSR1, &sa, 0);
	sigset_t usr1, unblocked;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &unblocked);
	sigdelset(&unblocked, SIGUSR1);
	kill(getpid(), SIGUSR1); /* pending until the wait's mask lets it through */
	v = sigsetjmp(env, 1);
	if (v == 0) {
		sigsuspend(&unblocked);
		printf("not reached\n");
	}
	sigset_t now;
	sigprocmask(SIG_BLOCK, 0, &now);
	printf("siglongjmp out of sigsuspend's handler: %d, USR1 blocked %d\n", v,
	       sigismember(&now, SIGUSR1));
	kill(getpid(), SIGUSR1);
	v = sigsetjmp(env, 1);
	if (v == 0) {
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		struct timespec ts = {5, 0};
		ppoll(&pf, 1, &ts, &unblocked);
		printf("not reached\n");
	}
	sigprocmask(SIG_BLOCK, 0, &now);
	printf("siglongjmp out of ppoll's handler: %d, USR1 blocked %d\n", v,
	       sigismember(&now, SIGUSR1));
	return 0;
}
