/* The confined client of authz_grate: one attack per mode (argv[1]), each printing what the
 * runtime answered, then whether the grate still governs it (geteuid == 4242). */
#include <errno.h>
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

int own_handler(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
                uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
                uint64_t c6)
{
	return 0;
}

static long wide_symlink(uint64_t me, uint64_t linkpath)
{
	long r = (long)lind_threei_call(SYS_symlink, me, (uint64_t)(uintptr_t)"/x", me, linkpath, me,
	                                0, me, 0, me, 0, me, 0, me);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

int main(int argc, char *argv[])
{
	const char *mode = argv[1];
	uint64_t me = getpid(), grate = strtoull(argv[2], NULL, 10);
	if (!strcmp(mode, "segments")) {
		/* the link path is the client's own argument: a value with upper bits must never be
		 * read as a pointer into the grate's memory (syscall() would truncate to 32 bits: the
		 * 64-bit form of the call goes through the client's own table like any call) */
		uint64_t secret = strtoull(argv[3], NULL, 10);
		for (uint64_t k = 1; k <= 8; k++) {
			char what[32];
			snprintf(what, sizeof what, "segment %llu", (unsigned long long)k);
			say(what, wide_symlink(me, (k << 32) | secret));
		}
		say("high pointer", wide_symlink(me, (1ULL << 40) | secret));
	} else if (!strcmp(mode, "escape")) {
		say("deregister", register_handler(me, SYS_geteuid, 0, 0));
		say("deregister naming the grate", register_handler(me, SYS_geteuid, grate, 0));
		say("route to self", register_handler(me, SYS_geteuid, me,
		                                     (uint64_t)(uintptr_t)&own_handler));
		say("copy own table over itself", copy_handler_table_to_cage(me, me));
		pid_t child = fork();
		if (child == 0) {
			say("child deregisters", register_handler(getpid(), SYS_geteuid, 0, 0));
			printf("child geteuid=%d\n", (int)geteuid());
			return 0;
		}
		int st;
		waitpid(child, &st, 0);
		say("child table over mine", copy_handler_table_to_cage(child, me));
	} else if (!strcmp(mode, "code")) {
		say("name the grate's function", register_handler(me, SYS_getgid, grate, 12345));
		say("name the grate's real handler", register_handler(me, SYS_getgid, grate, 1));
		say("route a number to the grate", register_handler(me, SYS_getuid, grate,
		                                              (uint64_t)(uintptr_t)&own_handler));
	} else if (!strcmp(mode, "signal")) {
		say("SIGSTOP the grate", kill((pid_t)grate, SIGSTOP));
		say("SIGKILL the grate", kill((pid_t)grate, SIGKILL));
		say("SIGTERM the grate", kill((pid_t)grate, SIGTERM));
		say("tkill the grate", syscall(SYS_tkill, (long)grate, SIGKILL));
	} else if (!strcmp(mode, "slow")) {
		/* served while the grate is stopped by its creator */
		printf("slow started\n");
		fflush(stdout);
		int served = 0;
		for (int i = 0; i < 10; i++) {
			served += geteuid() == 4242;
			usleep(30000);
		}
		printf("slow done, served %d\n", served);
		fflush(stdout);
	} else if (!strcmp(mode, "neighbour")) {
		printf("neighbour served\n");
	}
	printf("geteuid=%d\n", (int)geteuid());
	return 0;
}
