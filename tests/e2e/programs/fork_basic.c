/* fork: both sides run, see the right return values, and the parent collects the child. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	pid_t me = getpid();
	printf("before fork\n");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		printf("child: fork returned 0, getppid is the parent: %d, new pid: %d\n",
		       getppid() == me, getpid() != me);
		fflush(stdout);
		_exit(3);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	printf("parent: fork returned a pid: %d, pid unchanged: %d\n", pid > 0, getpid() == me);
	printf("parent: child exited %d with %d\n", WIFEXITED(status), WEXITSTATUS(status));
	return 0;
}
