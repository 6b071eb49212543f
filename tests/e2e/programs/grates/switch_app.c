/* Under relay_grate over hold_grate: geteuid three times (the bottom grate answers 2, each call
 * forwarded by the relay to it: C grate to C grate), nanosleep, three more, nanosleep, three
 * more; the test's Python grate turns each nanosleep into a change of the relay's own route for
 * geteuid (taken away, then put back: the relay's forwards reach RawPOSIX in between), or the
 * first into the end of the bottom grate.  Prints every result. */
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	struct timespec ts = {0, 1000};
	for (int i = 0; i < 3; i++) printf("before %ld\n", syscall(SYS_geteuid));
	nanosleep(&ts, 0);
	for (int i = 0; i < 3; i++) printf("between %ld\n", syscall(SYS_geteuid));
	nanosleep(&ts, 0);
	for (int i = 0; i < 3; i++) printf("after %ld\n", syscall(SYS_geteuid));
	return 0;
}
