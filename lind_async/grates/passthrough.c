/* passthrough: a C grate that forwards every call unchanged.
 *
 * usage: passthrough.wasm [--] PROGRAM [ARGS...]
 *
 * Like every Lind grate it forks; the child routes to this cage every call
 * number RawPOSIX implements (`python -m lind_async syscalls`) and execs
 * PROGRAM (a path inside the cage's root), which keeps the routes, as do the
 * cages PROGRAM forks.  Each handler passes its call on as the calling cage
 * with lind_threei_call (the full 64-bit result), so the program behaves as
 * without the grate -- which is what the test suites check by running their
 * programs under it.  Not routed: the calls that act on the calling *thread*
 * (clone, exit, gettid, set_tid_address, the robust lists, tkill, tgkill): a
 * grate's worker cannot be a thread of another cage.
 *
 * The grate ends as its program does: with its exit code, or killed by the
 * same signal, so the status a shell sees is the program's. */
#include <errno.h>
#include <lind_syscall.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PASS_ID (1ULL << 32)

/* RawPOSIX's numbers (python -m lind_async syscalls), thread calls left out. */
static const short numbers[] = {
	0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 24, 28, 32,
	33, 34, 35, 36, 37, 38, 39, 41, 57, 59, 61, 62, 63, 72, 79, 80, 82, 83, 84, 87, 96, 97,
	102, 104, 107, 108, 109, 110, 111, 112, 121, 124, 127, 130, 131, 157, 160, 202, 217, 228,
	229, 230, 231, 257, 258, 262, 263, 269, 292, 293, 302, 318, 324, 439, 1002, 1003, 1001,
};

int64_t pass_fptr_to_wt(uint64_t fn, uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2,
                        uint64_t c2, uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4,
                        uint64_t a5, uint64_t c5, uint64_t a6, uint64_t c6)
{
	if ((fn & ~0xffffffffULL) != PASS_ID) return -ENOSYS;
	return lind_threei_call(fn & 0xffffffff, cage, a1, c1, a2, c2, a3, c3, a4, c4, a5, c5,
	                        a6, c6);
}

int main(int argc, char **argv)
{
	int first = argc > 1 && !strcmp(argv[1], "--") ? 2 : 1;
	if (first >= argc) {
		fprintf(stderr, "usage: %s [--] PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	uint64_t self = getpid();
	pid_t child = fork();
	if (child < 0) {
		perror("passthrough: fork");
		return 1;
	}
	if (child == 0) {
		uint64_t me = getpid();
		/* register_handler (1001) last: once it is routed, the rest would be too */
		for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
			register_handler(me, numbers[i], self, PASS_ID | numbers[i]);
		execv(argv[first], &argv[first]);
		fprintf(stderr, "passthrough: %s: %s\n", argv[first], strerror(errno));
		_exit(127);
	}
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	while (wait(NULL) > 0)
		;
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, 0);
		raise(sig);
		return 128 + sig;
	}
	return WEXITSTATUS(status);
}
