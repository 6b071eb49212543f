/* Fills its memory map, then has a signal delivered to a handler.
 *
 * "raise": the signal is delivered when raise() returns; libc runs the handler on the main
 * stack, which needs no new mapping: it runs, as natively.
 * "spin": the signal (an alarm) arrives while the program computes; that handler runs on the
 * cage's signal stack, for which there is no room: no frame can be set up, so the cage must die
 * of SIGSEGV -- not of an internal error. Prints how much it mapped before. */
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { got = sig; }

int main(int argc, char **argv) {
	int spin = argc > 1 && argv[1][0] == 's';
	signal(SIGUSR1, on_usr1);
	signal(SIGALRM, on_usr1);
	unsigned long total = 0;
	for (size_t size = 1u << 28; size >= 4096; size /= 2)
		while (mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED)
			total += size;
	printf("mapped %lu\n", total);
	fflush(stdout);
	if (spin) {
		alarm(1);
		while (!got)
			;
	} else {
		raise(SIGUSR1);
	}
	printf("handler ran: %d\n", got);
	return 0;
}
