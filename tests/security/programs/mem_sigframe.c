/* Fills its memory map, then has a signal delivered to a handler: the handler's frame cannot be
 * set up (there is no room for a signal stack), so the cage must die of SIGSEGV -- not of an
 * internal error. Prints how much it mapped before raising. */
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { got = sig; }

int main(void) {
	signal(SIGUSR1, on_usr1);
	unsigned long total = 0;
	for (size_t size = 1u << 28; size >= 4096; size /= 2)
		while (mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED)
			total += size;
	printf("mapped %lu\n", total);
	fflush(stdout);
	raise(SIGUSR1);
	printf("handler ran: %d\n", got);
	return 0;
}
