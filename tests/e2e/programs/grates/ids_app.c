/* Prints its ids; a forked child prints geteuid too (it inherits the routes). */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	printf("geteuid=%d getgid=%d getuid_is_real=%d\n", (int)geteuid(), (int)getgid(),
	       getuid() != 4242);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		printf("child geteuid=%d\n", (int)geteuid());
		return 0;
	}
	int status;
	waitpid(pid, &status, 0);
	printf("parent done\n");
	return 3;
}
