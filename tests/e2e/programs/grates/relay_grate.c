/* A pass-through grate for stacks: `relay_grate PROGRAM [ARGS...]` forks; the child routes
 * getuid, geteuid, getgid and getegid to this grate and execs PROGRAM.  Each handler forwards
 * its call unchanged through the grate's own table (make_threei_call: the grate below, or
 * RawPOSIX) and returns what comes back, so a stack of relays over another C grate takes the
 * C-grate-to-C-grate forward on every call. */
#include <lind_syscall.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t self_id;

#define RELAY(name, nr) \
	static int name(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, \
	                uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, \
	                uint64_t c5, uint64_t a6, uint64_t c6) \
	{ \
		return make_threei_call(nr, 0, self_id, cage, a1, c1, a2, c2, a3, c3, a4, c4, a5, \
		                        c5, a6, c6, TRANSLATE_ERRNO_OFF); \
	}

RELAY(relay_getuid, SYS_getuid)
RELAY(relay_geteuid, SYS_geteuid)
RELAY(relay_getgid, SYS_getgid)
RELAY(relay_getegid, SYS_getegid)

int main(int argc, char *argv[])
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	self_id = getpid();
	pid_t child = fork();
	if (child == 0) {
		register_handler(getpid(), SYS_getuid, self_id, (uint64_t)(uintptr_t)&relay_getuid);
		register_handler(getpid(), SYS_geteuid, self_id, (uint64_t)(uintptr_t)&relay_geteuid);
		register_handler(getpid(), SYS_getgid, self_id, (uint64_t)(uintptr_t)&relay_getgid);
		register_handler(getpid(), SYS_getegid, self_id, (uint64_t)(uintptr_t)&relay_getegid);
		execv(argv[1], &argv[1]);
		perror("relay_grate: exec");
		_exit(127);
	}
	int status = 0;
	if (child < 0 || waitpid(child, &status, 0) < 0) return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
