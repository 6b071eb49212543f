/* Found by the fuzzer: a cage that sends SIGKILL to itself (its pid, its own
 * process group, from a thread, or through lind_threei_call) must die at that
 * call, as a native process does; it used to run on (and could exit 0).
 * Each case runs in a child; the parent prints how each child ended. */
#include <lind_syscall.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *killer(void *arg)
{
	(void)arg;
	kill(getpid(), SIGKILL);
	write(1, "thread ran on\n", 14);
	return 0;
}

static void child(int how)
{
	switch (how) {
	case 0:
		kill(getpid(), SIGKILL);
		break;
	case 1:
		setpgid(0, 0);
		kill(0, SIGKILL);
		break;
	case 2: {
		pthread_t t;
		pthread_create(&t, 0, killer, 0);
		pthread_join(t, 0);
		break;
	}
	case 3:
		lind_threei_call(SYS_kill, getpid(), getpid(), 0, SIGKILL, 0, 0, 0, 0, 0, 0, 0, 0, 0);
		break;
	}
	write(1, "ran on\n", 7);
	_exit(3);
}

int main(void)
{
	static const char *names[] = {"pid", "group", "thread", "threei"};
	for (int how = 0; how < 4; how++) {
		pid_t pid = fork();
		if (pid == 0) child(how);
		int st;
		waitpid(pid, &st, 0);
		if (WIFSIGNALED(st))
			printf("%s: killed by %d\n", names[how], WTERMSIG(st));
		else
			printf("%s: exited %d\n", names[how], WEXITSTATUS(st));
		fflush(stdout);
	}
	return 0;
}
