/* The fuzzer's neighbour: an ordinary program sharing the microvisor with the
 * fuzz cages (tests/security/test_fuzz.py).  For each line "K" on stdin it
 * writes a file, reads it back, sends bytes through a pipe, forks a child
 * that exits with K % 100, and prints "K SUM CODE OK": SUM is the sum of the
 * bytes read back, CODE the child's exit code, OK 1 when every step returned
 * what it should and its pid is unchanged.  The harness knows the exact
 * output to expect. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	char line[64];
	static unsigned char data[4096], back[4096];
	pid_t me = getpid();
	while (fgets(line, sizeof line, stdin)) {
		int k = atoi(line), ok = 1;
		size_t len = 1 + (size_t)k * 37 % 4000;
		for (size_t i = 0; i < len; i++) data[i] = (unsigned char)(i * 7 + k);
		int fd = open("nb.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, data, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0)
			ok = 0;
		memset(back, 0, sizeof back);
		if (fd < 0 || read(fd, back, len) != (ssize_t)len || memcmp(data, back, len)) ok = 0;
		if (fd >= 0) close(fd);
		unsigned sum = 0;
		for (size_t i = 0; i < len; i++) sum += back[i];
		int p[2];
		if (pipe(p) != 0 || write(p[1], data, 100) != 100 || read(p[0], back, 100) != 100 ||
		    memcmp(data, back, 100))
			ok = 0;
		close(p[0]);
		close(p[1]);
		int code = -1, st;
		pid_t child = fork();
		if (child == 0) _exit(k % 100);
		if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st)) ok = 0;
		else code = WEXITSTATUS(st);
		if (getpid() != me) ok = 0;
		printf("%d %u %d %d\n", k, sum, code, ok);
		fflush(stdout);
	}
	return 0;
}
