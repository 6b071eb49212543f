/* One grate, one handler blocked in read() for one cage while other cages'
 * calls through the grate proceed.  getuid reads a byte from the grate's own
 * (empty) pipe; geteuid answers 2 at once; getgid writes the byte that ends
 * the read.  The grate runs PROGRAM twice, as "reader" and as "other". */
#include <fcntl.h>
#include <lind_syscall.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int gate[2];

int blocked_read(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2,
                 uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5,
                 uint64_t a6, uint64_t c6)
{
	unsigned char c = 0;
	return read(gate[0], &c, 1) == 1 ? c : -1;
}

int answer(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
           uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
           uint64_t c6)
{
	return 2;
}

int release(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
            uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
            uint64_t c6)
{
	return write(gate[1], "k", 1) == 1 ? 0 : -1;
}

int main(int argc, char *argv[])
{
	uint64_t grate = getpid();
	const char *modes[2] = {"reader", "other"};
	pipe2(gate, O_CLOEXEC);
	for (int i = 0; i < 2; i++) {
		if (fork() == 0) {
			register_handler(getpid(), SYS_getuid, grate, (uint64_t)(uintptr_t)&blocked_read);
			register_handler(getpid(), SYS_geteuid, grate, (uint64_t)(uintptr_t)&answer);
			register_handler(getpid(), SYS_getgid, grate, (uint64_t)(uintptr_t)&release);
			char *args[] = {argv[1], (char *)modes[i], 0};
			execv(argv[1], args);
			return 127;
		}
	}
	int status, failed = 0;
	while (wait(&status) > 0) failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	return failed;
}
