/* Authority by re-parenting: "attacker" is the first cage of a world (the old reaper); "victim"
 * forks a child and exits, orphaning it. The attacker must get no authority over the orphan. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <lind_syscall.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *what, long r)
{
	printf("%s: %s\n", what, r < 0 ? strerror(errno) : "ok");
	fflush(stdout);
}

int main(int argc, char *argv[])
{
	if (!strcmp(argv[1], "victim")) {
		if (fork() == 0) {
			/* kill follows POSIX's per-user rule (security.md rule 5), not the lineage:
			 * the orphan is another user than the attacker, as two unrelated services. */
			if (getuid() == 0) setresuid(2001, 2001, 2001);
			char pid[16];
			int n = snprintf(pid, sizeof pid, "%d", (int)getpid());
			int fd = open("/victim.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);
			write(fd, pid, n);
			close(fd);
			rename("/victim.tmp", "/victim.pid");
			sleep(2);
			printf("orphan intact, parent %d\n", getppid() == 1 ? 1 : 0);
			return 0;
		}
		return 0;
	}
	char buf[16] = {0};
	int fd;
	while ((fd = open("/victim.pid", O_RDONLY)) < 0)
		usleep(20000);
	read(fd, buf, sizeof buf - 1);
	close(fd);
	usleep(300000); /* the victim's parent has exited: its child is an orphan now */
	if (getuid() == 0) setresuid(2002, 2002, 2002); /* see the victim: another user */
	uint64_t me = getpid(), victim = strtoull(buf, NULL, 10);
	char out[4];
	say("copy from the orphan", copy_data_between_cages(me, victim, 4096, victim,
	                                                   (uint64_t)(uintptr_t)out, me, 4, 0));
	say("copy into the orphan", copy_data_between_cages(me, victim, (uint64_t)(uintptr_t)out,
	                                                   me, 4096, victim, 4, 0));
	say("call as the orphan", make_threei_call(SYS_getpid, 0, me, victim, 0, 0, 0, 0, 0, 0, 0,
	                                           0, 0, 0, 0, 0, TRANSLATE_ERRNO_ON));
	say("route the orphan", register_handler(victim, SYS_getpid, me, 0));
	say("kill the orphan", kill((pid_t)victim, SIGKILL));
	say("wait for the orphan", waitpid((pid_t)victim, NULL, WNOHANG));
	return 0;
}
