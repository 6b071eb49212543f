/* Tries to slip out from under a Python policy grate (readonly, seccomp) through 3i's routing
 * calls, then tries the write the policy forbids. */
#include <errno.h>
#include <fcntl.h>
#include <lind_syscall.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void say(const char *what, long r)
{
	printf("%s: %s\n", what, r < 0 ? strerror(errno) : "ok");
}

int main(void)
{
	uint64_t me = getpid();
	say("deregister open", register_handler(me, SYS_open, 0, 0));
	say("deregister openat", register_handler(me, SYS_openat, 0, 0));
	say("route openat to self", register_handler(me, SYS_openat, me, 1));
	say("copy table", copy_handler_table_to_cage(me, me));
	int fd = open("/ro/file", O_WRONLY | O_CREAT, 0644);
	say("write under the policy", fd);
	return 0;
}
