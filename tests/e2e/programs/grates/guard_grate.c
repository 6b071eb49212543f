/* A grate that interposes on another grate's register_handler (3i call 1001).
 *
 * usage: guard_grate INNER_GRATE PROGRAM...: the child routes 1001 to this
 * grate and execs INNER_GRATE, whose registrations (made by its own child)
 * arrive here: geteuid's is rewritten to route to this grate's handler
 * instead, getgid's is refused with EPERM, and every one is reported on
 * stdout.  The rest is forwarded unchanged (as the registering cage). */
#include <errno.h>
#include <lind_syscall.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t self_id;

int guard_euid(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
               uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
               uint64_t c6)
{
	return 9999;
}

static void report(const char *what, uint64_t nr, uint64_t cage, uint64_t target)
{
	char line[128];
	int n = snprintf(line, sizeof line, "guard: register %llu by %s for %s: %s\n",
	                 (unsigned long long)nr, cage == self_id ? "guard" : "another cage",
	                 target == cage ? "itself" : "another cage", what);
	write(1, line, n);
}

int guard_register(uint64_t cage, uint64_t target, uint64_t tc, uint64_t nr, uint64_t nc,
                   uint64_t handler, uint64_t hc, uint64_t fn, uint64_t fc, uint64_t a5,
                   uint64_t c5, uint64_t a6, uint64_t c6)
{
	if (nr == SYS_getgid) {
		report("refused", nr, cage, target);
		return -EPERM;
	}
	if (nr == SYS_geteuid) {
		report("rewritten to the guard", nr, cage, target);
		handler = self_id;
		fn = (uint64_t)(uintptr_t)&guard_euid;
	} else {
		report("passed on", nr, cage, target);
	}
	return make_threei_call(SYS_register_handler, 0, self_id, cage, target, tc, nr, nc,
	                        handler, hc, fn, fc, a5, c5, a6, c6, TRANSLATE_ERRNO_OFF);
}

int main(int argc, char *argv[])
{
	self_id = getpid();
	if (fork() == 0) {
		register_handler(getpid(), SYS_register_handler, self_id,
		                 (uint64_t)(uintptr_t)&guard_register);
		execv(argv[1], &argv[1]);
		perror("execv");
		return 127;
	}
	int status = 0;
	wait(&status);
	return WEXITSTATUS(status);
}
