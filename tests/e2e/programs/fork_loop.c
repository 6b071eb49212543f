/* 50 children, each exiting with its own number; the parent collects them in order. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 50

int main(void)
{
	pid_t pids[N];
	int counter = 1000;
	for (int i = 0; i < N; i++) {
		counter++;
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0)
			_exit(counter - 1000 + i); /* the child's copy of counter: 2*i + 1 */
	}
	int sum = 0, distinct = 1;
	for (int i = 0; i < N; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status))
			return 1;
		sum += WEXITSTATUS(status);
		for (int j = 0; j < i; j++)
			distinct &= pids[j] != pids[i];
	}
	printf("%d children, exit statuses sum to %d, pids distinct: %d\n", N, sum, distinct);
	return 0;
}
