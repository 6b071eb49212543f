/* A handler runs on the interrupted thread's own stack: it may fork (the child returns from the
 * handler and from the interrupted call: kill's 0, read's EINTR), and siglongjmp out of it, after
 * which signals are still delivered. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#include <setjmp.h>

static volatile int got;
static sigjmp_buf env;

static void on_usr1(int s)
{
	pid_t p = fork();
	if (p == 0) {
		printf("child in handler, signal %d\n", s);
		fflush(stdout);
		got = 100;
		return; /* the child returns from the handler and the interrupted call */
	}
	int st;
	waitpid(p, &st, 0);
	printf("parent in handler: child exited %d\n", WEXITSTATUS(st));
	fflush(stdout);
	got = 1;
}

static void on_usr2(int s) { siglongjmp(env, s); }

int main(void)
{
	signal(SIGUSR1, on_usr1);
	pid_t me = getpid();
	int r = kill(me, SIGUSR1);
	printf("%s after kill: r=%d got=%d\n", got == 100 ? "child" : "parent", r, got);
	fflush(stdout);
	if (got == 100) _exit(7);
	/* interrupted blocking call */
	int pfd[2];
	pipe(pfd);
	alarm(1);
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigaction(SIGALRM, &sa, 0);
	char c;
	got = 0;
	ssize_t n = read(pfd[0], &c, 1);
	printf("%s read: n=%zd errno=%s got=%d\n", got == 100 ? "child" : "parent", n,
	       n < 0 ? strerror(errno) : "-", got);
	fflush(stdout);
	if (got == 100) _exit(9);
	signal(SIGUSR2, on_usr2);
	int v = sigsetjmp(env, 1);
	if (v == 0) {
		raise(SIGUSR2);
		printf("not reached\n");
	} else {
		printf("longjmp out of handler: %d\n", v);
	}
	r = kill(me, SIGUSR1);
	printf("signals after longjmp still delivered: got=%d\n", got);
	return 0;
}
