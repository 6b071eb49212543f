/* A well-behaved neighbour: echoes each line of stdin as "ok: LINE" until end of input, with a
 * page of its own file mapping touched in between (its memory must stay intact). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
	int fd = open("/neighbour.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4096) != 0) return 2;
	char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) return 3;
	char line[256];
	unsigned n = 0;
	while (fgets(line, sizeof line, stdin)) {
		p[n % 4096] = (char)n;
		if (p[n % 4096] != (char)n) return 4;
		n++;
		printf("ok: %s", line);
		fflush(stdout);
	}
	return 0;
}
