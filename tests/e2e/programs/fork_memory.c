/* fork copies memory: the child sees the parent's data as it was at fork (globals, the heap, a
 * large mmap, the stack), and neither side sees the other's later writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int global = 1;
static char bss[100000];

static unsigned sum(const unsigned char *p, size_t n)
{
	unsigned s = 0;
	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

int main(void)
{
	size_t heap_n = 3 << 20, map_n = 8 << 20;
	unsigned char *heap = malloc(heap_n);
	unsigned char *map = mmap(0, map_n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int local = 10;
	if (!heap || map == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < heap_n; i++)
		heap[i] = (unsigned char)(i * 7);
	map[0] = 1;
	map[map_n / 2] = 2;
	map[map_n - 1] = 3;
	strcpy(bss + 5000, "in the bss");
	global = 2;
	unsigned before = sum(heap, heap_n);
	fflush(stdout);

	pid_t pid = fork();
	if (pid == 0) {
		printf("child sees: global %d, local %d, bss '%s', heap same %d, map %d %d %d\n",
		       global, local, bss + 5000, sum(heap, heap_n) == before,
		       map[0], map[map_n / 2], map[map_n - 1]);
		global = 99;
		local = 99;
		memset(heap, 0xAB, heap_n);
		map[map_n / 2] = 77;
		strcpy(bss + 5000, "child wrote");
		printf("child changed: global %d, local %d, bss '%s', map %d\n", global, local,
		       bss + 5000, map[map_n / 2]);
		fflush(stdout);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("parent after child: global %d, local %d, bss '%s', heap same %d, map %d %d %d\n",
	       global, local, bss + 5000, sum(heap, heap_n) == before,
	       map[0], map[map_n / 2], map[map_n - 1]);
	free(heap);
	return WEXITSTATUS(status);
}
