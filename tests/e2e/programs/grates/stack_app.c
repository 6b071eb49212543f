/* Callers of a relay stack over hold_grate: three cages at once.  "slow" is held 300 ms in the
 * bottom grate (getuid); "fast", started meanwhile, makes 200 geteuid and 50 getegid calls that
 * must all complete while the slow one waits; then the parent, once both are done, calls getgid,
 * which ends the bottom grate in the middle of the call (EIO), and geteuid once more (EIO: the
 * grate is gone).  Every call is syscall(): a failure is -1 and errno, whatever libc's wrapper for
 * the call would do. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	pid_t slow = fork();
	if (slow == 0) {
		int uid = syscall(SYS_getuid);
		printf("slow: getuid=%d\n", uid);
		return 0;
	}
	pid_t fast = fork();
	if (fast == 0) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, 0); /* let the slow call reach the bottom grate first */
		long sum = 0;
		for (int i = 0; i < 200; i++) sum += syscall(SYS_geteuid);
		for (int i = 0; i < 50; i++) sum += syscall(SYS_getegid);
		printf("fast: sum=%ld\n", sum);
		return 0;
	}
	int status;
	while (wait(&status) > 0)
		;
	errno = 0;
	int gid = syscall(SYS_getgid);
	printf("getgid (the grate exits) = %d %s\n", gid, strerror(errno));
	errno = 0;
	int euid = syscall(SYS_geteuid);
	printf("geteuid after = %d %s\n", euid, strerror(errno));
	return 0;
}
