/* The bottom of a relay stack: `hold_grate PROGRAM [ARGS...]` forks; the child routes getuid,
 * geteuid, getgid and getegid here and execs PROGRAM.  getuid holds its caller 300 ms (nanosleep
 * in the handler) and answers 1; geteuid answers 2 at once; getegid answers 3 after a yield
 * (sched_yield: a system call of the handler's own); getgid ends the grate in the middle of the
 * call (_exit(7)), so every call in flight through it, and every later one, gets EIO. */
#include <lind_syscall.h>
#include <sched.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H(name) \
	static int name(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, \
	                uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, \
	                uint64_t c5, uint64_t a6, uint64_t c6)

H(hold)
{
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, 0);
	return 1;
}
H(answer) { return 2; }
H(yield_then_answer)
{
	sched_yield();
	return 3;
}
H(end_grate) { _exit(7); }

int main(int argc, char *argv[])
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	uint64_t self_id = getpid();
	pid_t child = fork();
	if (child == 0) {
		register_handler(getpid(), SYS_getuid, self_id, (uint64_t)(uintptr_t)&hold);
		register_handler(getpid(), SYS_geteuid, self_id, (uint64_t)(uintptr_t)&answer);
		register_handler(getpid(), SYS_getegid, self_id, (uint64_t)(uintptr_t)&yield_then_answer);
		register_handler(getpid(), SYS_getgid, self_id, (uint64_t)(uintptr_t)&end_grate);
		execv(argv[1], &argv[1]);
		perror("hold_grate: exec");
		_exit(127);
	}
	int status = 0;
	if (child < 0 || waitpid(child, &status, 0) < 0) return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
