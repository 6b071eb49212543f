/* Fills its memory map, then forks: fork must fail with ENOMEM (there is no room for the fork
 * buffer), never an internal error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
	unsigned long total = 0;
	for (size_t size = 1u << 28; size >= 4096; size /= 2)
		while (mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED)
			total += size;
	pid_t p = fork();
	if (p == 0) _exit(3);
	int st = 0;
	if (p > 0) waitpid(p, &st, 0);
	printf("fork: %d %s status %d\n", p > 0 ? 1 : (int)p, p < 0 ? strerror(errno) : "", WEXITSTATUS(st));
	return 0;
}
