/* One grate serving two cages at once: getuid sleeps 500 ms in the grate
 * (nanosleep from the handler) while the other cage's geteuid calls are
 * served.  errno is per worker: each handler sets it and checks it. */
#include <errno.h>
#include <lind_syscall.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int slow(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
         uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
         uint64_t c6)
{
	struct timespec ts = {0, 500 * 1000 * 1000};
	errno = 111;
	nanosleep(&ts, 0);
	return errno == 111 ? 1 : -99;
}

int fast(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
         uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
         uint64_t c6)
{
	errno = 222;
	return 2;
}

int main(int argc, char *argv[])
{
	uint64_t grate = getpid();
	const char *modes[2] = {"slow", "fast"};
	for (int i = 0; i < 2; i++) {
		if (fork() == 0) {
			register_handler(getpid(), SYS_getuid, grate, (uint64_t)(uintptr_t)&slow);
			register_handler(getpid(), SYS_geteuid, grate, (uint64_t)(uintptr_t)&fast);
			char *args[] = {argv[1], (char *)modes[i], 0};
			execv(argv[1], args);
			return 127;
		}
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
