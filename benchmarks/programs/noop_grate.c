/* A no-op C grate for benchmarks: `noop_grate [--answer] [--] PROGRAM [ARGS...]`.
 *
 * Forks; the child registers a handler for geteuid on itself and execs PROGRAM (a path inside
 * the cage root), as grates/strace.c and grates/imfs.c do.  The handler forwards the call
 * unchanged (make_threei_call through the grate's own table: the grate below, or RawPOSIX), or
 * with --answer returns 0 itself.  Stack grates by exec'ing one under another:
 * `noop_grate --answer noop_grate noop_grate app` (the first launched is the bottom one). */
#include <lind_syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t self_id;

static int forward_geteuid(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2,
                           uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5,
                           uint64_t c5, uint64_t a6, uint64_t c6)
{
	return make_threei_call(SYS_geteuid, 0, self_id, cage, a1, c1, a2, c2, a3, c3, a4, c4, a5,
	                        c5, a6, c6, TRANSLATE_ERRNO_OFF);
}

static int answer_geteuid(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2,
                          uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5,
                          uint64_t c5, uint64_t a6, uint64_t c6)
{
	(void)cage, (void)a1, (void)c1, (void)a2, (void)c2, (void)a3, (void)c3, (void)a4,
		(void)c4, (void)a5, (void)c5, (void)a6, (void)c6;
	return 0;
}

int main(int argc, char **argv)
{
	int first = 1, answer = 0;
	if (first < argc && !strcmp(argv[first], "--answer")) answer = 1, first++;
	if (first < argc && !strcmp(argv[first], "--")) first++;
	if (first >= argc) {
		fprintf(stderr, "usage: %s [--answer] [--] PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	self_id = getpid();
	pid_t child = fork();
	if (child < 0) {
		perror("noop_grate: fork");
		return 1;
	}
	if (child == 0) {
		int (*handler)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
		               uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) =
			answer ? answer_geteuid : forward_geteuid;
		register_handler(getpid(), SYS_geteuid, self_id, (uint64_t)(uintptr_t)handler);
		execv(argv[first], &argv[first]);
		perror("noop_grate: exec");
		_exit(127);
	}
	int status = 0;
	if (waitpid(child, &status, 0) < 0) return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
