/* Routes to cages that cannot serve: a cage that is no grate (no pass_fptr_to_wt), a grate
 * that exec'd a program that is not one, and a child that has not started running. */
#include <errno.h>
#include <lind_syscall.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *what, long r)
{
	printf("%s: %s\n", what, r < 0 ? strerror(errno) : "ok");
	fflush(stdout);
}

int main(int argc, char *argv[])
{
	uint64_t me = getpid();
	say("route to a non-grate", register_handler(me, SYS_getpid, me, 1));
	say("getpid still works", getpid() == (pid_t)me ? 0 : -1);
	char out[4];
	pid_t child = fork();
	if (child == 0) {
		usleep(200000);
		_exit(0);
	}
	/* the child has memory from the moment it exists: a copy into it works or is refused,
	 * never an internal error */
	long r = copy_data_between_cages(me, child, (uint64_t)(uintptr_t)out, me, 4096, child, 4, 0);
	printf("copy into a new child: %s\n", r == 0 || errno == ESRCH ? "ok" : strerror(errno));
	int st;
	waitpid(child, &st, 0);
	r = copy_data_between_cages(me, child, (uint64_t)(uintptr_t)out, me, 4096, child, 4, 0);
	say("copy into a reaped child", r);
	return 0;
}
