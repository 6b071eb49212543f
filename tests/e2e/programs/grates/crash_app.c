/* crash_app victim trap|null|exit: crashes the grate (through getuid or
 * getgid) or has it exit (getpgrp);
 * crash_app bystander: is inside the grate (getegid, 300 ms) when it dies;
 * crash_app alone: under no grate, runs on past the crash. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms)
{
	struct timespec ts = {0, ms * 1000 * 1000};
	nanosleep(&ts, 0);
}

static void show(const char *who, const char *what, long r)
{
	printf("%s: %s = %ld%s%s\n", who, what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *who = argv[1];
	if (!strcmp(who, "victim")) {
		nap_ms(100); /* the bystander is inside the grate by now */
		show(who, "geteuid", syscall(SYS_geteuid));
		if (!strcmp(argv[2], "trap")) show(who, "getuid (traps)", syscall(SYS_getuid));
		else if (!strcmp(argv[2], "null")) show(who, "getgid (null call)", syscall(SYS_getgid));
		else show(who, "getpgrp (grate exits)", syscall(SYS_getpgrp));
		show(who, "geteuid after", syscall(SYS_geteuid));
		show(who, "getpid (not routed)", syscall(SYS_getpid) > 0);
		return 0;
	}
	if (!strcmp(who, "bystander")) {
		show(who, "getegid (in the grate when it dies)", syscall(SYS_getegid));
		show(who, "geteuid after", syscall(SYS_geteuid));
		return 0;
	}
	nap_ms(500);
	printf("alone: still running\n");
	return 0;
}
