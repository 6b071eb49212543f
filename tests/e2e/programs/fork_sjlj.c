/* fork inside a function that uses setjmp; the child longjmps back. */
#include <setjmp.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static jmp_buf jb;

int main(void)
{
	if (setjmp(jb) == 0) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			printf("child jumps\n");
			fflush(stdout);
			longjmp(jb, 1);
		}
		int status;
		waitpid(pid, &status, 0);
		printf("parent: child exited %d\n", WEXITSTATUS(status));
		return 0;
	}
	printf("child landed at setjmp\n");
	fflush(stdout);
	return 7;
}
