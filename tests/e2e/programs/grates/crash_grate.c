/* A grate whose handlers crash: getuid traps (__builtin_trap), getgid calls a
 * null function pointer, getpgrp ends the grate (_exit(7)), geteuid answers
 * 4242, getegid sleeps 300 ms and then answers 5.  It runs PROGRAM as "victim" and as "bystander". */
#include <lind_syscall.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef int (*fn_t)(void);
volatile fn_t nothing = 0;

#define H(name) \
	int name(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3, \
	         uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6, \
	         uint64_t c6)

H(trap) { __builtin_trap(); }
H(null_call) { return nothing(); }
H(end_grate) { _exit(7); }
H(fine) { return 4242; }
H(slow)
{
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, 0);
	return 5;
}

int main(int argc, char *argv[])
{
	uint64_t grate = getpid();
	const char *modes[2] = {"victim", "bystander"};
	for (int i = 0; i < 2; i++) {
		if (fork() == 0) {
			register_handler(getpid(), SYS_getuid, grate, (uint64_t)(uintptr_t)&trap);
			register_handler(getpid(), SYS_getgid, grate, (uint64_t)(uintptr_t)&null_call);
			register_handler(getpid(), SYS_getpgrp, grate, (uint64_t)(uintptr_t)&end_grate);
			register_handler(getpid(), SYS_geteuid, grate, (uint64_t)(uintptr_t)&fine);
			register_handler(getpid(), SYS_getegid, grate, (uint64_t)(uintptr_t)&slow);
			char *args[] = {argv[1], (char *)modes[i], argv[2], 0};
			execv(argv[1], args);
			return 127;
		}
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
