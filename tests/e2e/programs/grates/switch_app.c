/* Under relay_grate over hold_grate: geteuid three times (the bottom grate answers 2, each call
 * forwarded by the relay to it: C grate to C grate), then nanosleep, which the test's Python
 * grate turns into a change of the relay's own route for geteuid (taken away: RawPOSIX answers
 * the relay's forwards from then on, or sent to the relay itself), then geteuid three times
 * more.  Prints every result. */
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	for (int i = 0; i < 3; i++) printf("before %ld\n", syscall(SYS_geteuid));
	struct timespec ts = {0, 1000};
	nanosleep(&ts, 0);
	for (int i = 0; i < 3; i++) printf("after %ld\n", syscall(SYS_geteuid));
	return 0;
}
