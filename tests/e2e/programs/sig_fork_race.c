/* fork racing signals: a 1 ms interval timer keeps SIGALRM arriving while the parent forks in a
 * loop (children exit at once, the parent waits, retrying on EINTR), then a SIGCHLD handler reaps
 * the children of a second loop while the parent computes between forks and sleeps in
 * sigsuspend. Every fork must succeed and every child be reaped with its status. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t alarms, reaped, bad_status;
static volatile unsigned long sink;

static void on_alrm(int s) { (void)s; alarms++; }

static void on_chld(int s)
{
	int e = errno, st;
	pid_t p;
	(void)s;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		reaped++;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 7)
			bad_status++;
	}
	errno = e;
}

static void spin(int n)
{
	for (int i = 0; i < n; i++)
		sink += i;
}

static void timer(int us)
{
	struct itimerval it = {{0, us}, {0, us}};
	setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alrm; /* no SA_RESTART: waitpid sees EINTR */
	sigaction(SIGALRM, &sa, NULL);
	timer(1000);
	int ok = 0, fails = 0, eintr = 0;
	for (int i = 0; i < 150; i++) {
		if (i % 3 == 0)
			spin(200000);
		pid_t p = fork();
		if (p < 0) {
			fails++;
			continue;
		}
		if (p == 0)
			_exit(i & 127);
		int st;
		pid_t w;
		while ((w = waitpid(p, &st, 0)) < 0 && errno == EINTR)
			eintr++;
		if (w == p && WIFEXITED(st) && WEXITSTATUS(st) == (i & 127))
			ok++;
	}
	printf("timer + fork/wait: ok=%d fails=%d\n", ok, fails);

	sa.sa_handler = on_chld;
	sa.sa_flags = SA_NOCLDSTOP; /* SIGCHLD interrupts too */
	sigaction(SIGCHLD, &sa, NULL);
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int started = 0;
	for (int i = 0; i < 150; i++) {
		spin(100000);
		pid_t p = fork();
		if (p < 0) {
			fails++;
			continue;
		}
		if (p == 0) {
			if (i % 2)
				spin(50000);
			_exit(7);
		}
		started++;
	}
	sigprocmask(SIG_BLOCK, &chld, &old);
	while (reaped < started)
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	timer(0);
	printf("SIGCHLD reaping: started=%d reaped=%d bad=%d fails=%d\n", started, reaped,
	       bad_status, fails);
	printf("no child left: %d\n", waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
	printf("timer fired: %d\n", alarms > 0);
	return 0;
}
