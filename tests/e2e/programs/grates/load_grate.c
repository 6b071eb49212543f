/* Load through one C grate: geteuid answers 4242; call 2000 (a number of its
 * own) answers a function of its two arguments and the calling cage, so an
 * answer given to the wrong call would be noticed. */
#include <lind_syscall.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYS_geteuid 107
#define SYS_mix 2000

int fake_euid(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
              uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
              uint64_t c6)
{
	return 4242;
}

int mix(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
        uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
        uint64_t c6)
{
	if (c1 != cage || c2 != cage) return -1; /* every argument is the caller's */
	return (int)(((a1 << 20) ^ (a2 * 2654435761u) ^ cage) & 0x3fffffff);
}

int main(int argc, char *argv[])
{
	uint64_t grate = getpid();
	if (fork() == 0) {
		register_handler(getpid(), SYS_geteuid, grate, (uint64_t)(uintptr_t)&fake_euid);
		register_handler(getpid(), SYS_mix, grate, (uint64_t)(uintptr_t)&mix);
		execv(argv[1], &argv[1]);
		perror("execv");
		return 127;
	}
	int status = 0;
	wait(&status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
