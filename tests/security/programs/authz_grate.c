/* A grate for the authority attacks (tests/security/test_authority.py), with lind-musl's default
 * entry (so its handler ids are function-table indices the runtime can check).
 *
 * usage: authz_grate APP ARGS...: runs APP ARGS... as a confined client, then (after it ends)
 * APP neighbour as a second client. Both get geteuid answered with 4242 (the grate's policy) and
 * symlink rewritten: the target path is copied into the grate's memory and forwarded with
 * GRATE_MEMORY_FLAG while the link path stays the client's argument. The grate keeps a secret in
 * its own memory and hands its address to the client as the last argument. */
#include <errno.h>
#include <lind_syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t self_id;
char secret[32] = "LEAKED-SECRET";

int fake_euid(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
              uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
              uint64_t c6)
{
	return 4242;
}

int moved_symlink(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3,
                  uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6,
                  uint64_t c6)
{
	char path[256];
	int r = copy_data_between_cages(self_id, c1, a1, c1, (uint64_t)(uintptr_t)path, self_id,
	                                sizeof path, LIND_COPY_STRNCPY);
	if (r < 0) return -14;
	return make_threei_call(SYS_symlink, 0, self_id, cage, (uint64_t)(uintptr_t)path,
	                        self_id | GRATE_MEMORY_FLAG, a2, c2, 0, 0, 0, 0, 0, 0, 0, 0,
	                        TRANSLATE_ERRNO_OFF);
}

static int client(char **argv)
{
	pid_t pid = fork();
	if (pid == 0) {
		uint64_t me = getpid();
		register_handler(me, SYS_geteuid, self_id, (uint64_t)(uintptr_t)&fake_euid);
		register_handler(me, SYS_symlink, self_id, (uint64_t)(uintptr_t)&moved_symlink);
		execv(argv[0], argv);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

int main(int argc, char *argv[])
{
	char addr[32], grate[32];
	self_id = getpid();
	/* its own handler ids are checked against its function table when registered */
	int bogus = register_handler(self_id, SYS_getgid, self_id, 12345);
	printf("bogus handler id: %s\n", bogus < 0 ? strerror(errno) : "accepted");
	int data = register_handler(self_id, SYS_getgid, self_id, (uint64_t)(uintptr_t)secret);
	printf("data address as handler id: %s\n", data < 0 ? strerror(errno) : "accepted");
	register_handler(self_id, SYS_getgid, 0, 0);
	fflush(stdout);
	snprintf(addr, sizeof addr, "%lu", (unsigned long)(uintptr_t)secret);
	snprintf(grate, sizeof grate, "%llu", (unsigned long long)self_id);
	char *attacker[8] = {argv[1], argc > 2 ? argv[2] : "none", grate, addr, NULL};
	int status = client(attacker);
	printf("attacker status %d\n", status);
	fflush(stdout);
	char *neighbour[4] = {argv[1], "neighbour", grate, NULL};
	status = client(neighbour);
	printf("neighbour status %d\n", status);
	return 0;
}
