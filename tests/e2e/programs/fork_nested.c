/* fork deep in the call stack, through a function pointer, and from a child (grandchild). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_for(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WEXITSTATUS(status);
}

__attribute__((noinline)) static int recurse(int depth, int acc)
{
	if (depth == 0) {
		pid_t pid = fork();
		if (pid == 0)
			return acc; /* the child unwinds the same 100 frames */
		return -wait_for(pid);
	}
	int r = recurse(depth - 1, acc + depth);
	return r < 0 ? r : r + 1;
}

static int by_pointer(void)
{
	pid_t pid = fork();
	if (pid == 0)
		return 42;
	return 100 + wait_for(pid);
}

int main(void)
{
	int (*volatile fp)(void) = by_pointer;

	int r = recurse(100, 0);
	if (r >= 0) { /* child */
		printf("child at depth 100 unwound to main: %d\n", r);
		fflush(stdout);
		_exit(r & 0x7f);
	}
	printf("parent: child returned %d\n", -r);
	fflush(stdout); /* else both copies of the stdio buffer get written */

	r = fp();
	if (r == 42) {
		fflush(stdout);
		_exit(42);
	}
	printf("parent: fork through a pointer, child exit %d\n", r - 100);

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		pid_t grandchild = fork();
		if (grandchild == 0) {
			printf("grandchild runs\n");
			fflush(stdout);
			_exit(5);
		}
		int g = wait_for(grandchild);
		printf("child: grandchild exited %d\n", g);
		fflush(stdout);
		_exit(g + 1);
	}
	printf("parent: child exited %d\n", wait_for(pid));
	return 0;
}
