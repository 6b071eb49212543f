/* rt_sigprocmask's cases, for the C trampoline's answer (native/syscall_signals.c) and
 * Python's: block/unblock/setmask with and without the old set, the old set at the new set's
 * address, SIGKILL/SIGSTOP never blocked, bad how, bad size, bad pointers, a signal raised
 * while blocked delivered when unblocked (and by sigsuspend), masks across fork, and a
 * thread's own mask. Prints what it saw; compared with the same program built by gcc. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr(int sig) { got = sig; }

static uint64_t raw_mask(void)
{
	uint64_t now = 0;
	long r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, &now, 8);
	if (r != 0)
		printf("raw query failed: %d\n", errno);
	return now & ((1ULL << 31) - 1);  /* (libc-internal signals 32+ left out) */
}

static void raw(const char *what, int how, void *set, void *old, long size)
{
	errno = 0;
	long r = syscall(SYS_rt_sigprocmask, how, set, old, size);
	printf("%s: %ld errno %s\n", what, r, r ? strerror(errno) : "-");
}

static void *thread_main(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &s, 0);
	printf("thread mask %#llx\n", (unsigned long long)raw_mask());
	return 0;
}

int main(void)
{
	setvbuf(stdout, 0, _IONBF, 0);
	signal(SIGUSR1, on_usr);
	signal(SIGUSR2, on_usr);
	printf("start %#llx\n", (unsigned long long)raw_mask());

	sigset_t s, old;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGINT);
	sigprocmask(SIG_BLOCK, &s, &old);
	printf("blocked %#llx old has USR1 %d\n", (unsigned long long)raw_mask(),
	       sigismember(&old, SIGUSR1));
	sigdelset(&s, SIGINT);
	sigprocmask(SIG_UNBLOCK, &s, 0);
	printf("unblocked %#llx\n", (unsigned long long)raw_mask());

	uint64_t same = 1ULL << (SIGTERM - 1);  /* old written over new */
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &same, &same, 8);
	printf("setmask old %#llx now %#llx\n", (unsigned long long)same,
	       (unsigned long long)raw_mask());

	uint64_t all = ~0ULL;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
	uint64_t back = 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, 0, &back, 8);
	printf("all: KILL %d STOP %d TERM %d\n", (int)(back >> (SIGKILL - 1) & 1),
	       (int)(back >> (SIGSTOP - 1) & 1), (int)(back >> (SIGTERM - 1) & 1));
	uint64_t none = 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);

	raw("bad how", 7, &none, 0, 8);
	raw("bad how, no set", 7, 0, &back, 8);
	raw("bad size", SIG_BLOCK, &none, 0, 4);
	raw("bad set", SIG_BLOCK, (void *)8, 0, 8);
	raw("bad old", SIG_BLOCK, &none, (void *)8, 8);
	raw("set past memory", SIG_BLOCK, (void *)-64, 0, 8);
	printf("after errors %#llx\n", (unsigned long long)raw_mask());

	/* a signal raised while blocked stays pending; unblocking delivers it at once */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, 0);
	raise(SIGUSR1);
	printf("while blocked got %d\n", (int)got);
	sigset_t pend;
	sigpending(&pend);
	printf("pending USR1 %d\n", sigismember(&pend, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &s, 0);
	printf("after unblock got %d\n", (int)got);
	got = 0;

	/* the same with two changes in a row: block more, then set a mask without it */
	sigprocmask(SIG_BLOCK, &s, 0);
	raise(SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, 0);
	printf("still blocked got %d\n", (int)got);
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_SETMASK, &s, 0);
	printf("after setmask got %d mask %#llx\n", (int)got, (unsigned long long)raw_mask());
	got = 0;

	/* sigsuspend's temporary mask, then the old one back */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, 0);
	raise(SIGUSR1);
	sigset_t wait_mask;
	sigemptyset(&wait_mask);
	sigsuspend(&wait_mask);
	printf("sigsuspend got %d mask %#llx\n", (int)got, (unsigned long long)raw_mask());
	got = 0;

	/* fork: the child starts with the parent's mask */
	pid_t pid = fork();
	if (pid == 0) {
		printf("child mask %#llx\n", (unsigned long long)raw_mask());
		sigprocmask(SIG_SETMASK, &wait_mask, 0);
		printf("child cleared %#llx\n", (unsigned long long)raw_mask());
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("parent mask %#llx child status %d\n", (unsigned long long)raw_mask(), status);

	/* a thread's mask is its own */
	pthread_t t;
	pthread_create(&t, 0, thread_main, 0);
	pthread_join(t, 0);
	printf("main after thread %#llx\n", (unsigned long long)raw_mask());
	sigprocmask(SIG_SETMASK, &wait_mask, 0);
	printf("end %#llx\n", (unsigned long long)raw_mask());
	return 0;
}
