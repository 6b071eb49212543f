/* 3i operations from a program that is its own grate (built with --grate):
 * a self-registered handler, ENOSYS through threei_call, strncpy stopping at
 * the end of memory, copy_handler_table_to_cage replacing a forked child's
 * table, and EPERM for naming a cage one has no authority over: the parent
 * (authority goes down the tree, not up) or a sibling, as target, argument
 * owner (flagged or not), copy end, handler cage or table, whatever id is
 * passed as self_cageid / thiscage (the runtime knows the real caller). */
#include <errno.h>
#include <lind_syscall.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define H(name, value) \
	static int name(uint64_t cage, uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, \
	                uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4, uint64_t a5, \
	                uint64_t c5, uint64_t a6, uint64_t c6) { return value; }
H(fake_euid, 4242)
H(fake_gid, 777)

static void check(const char *what, int r)
{
	printf("%s: %d%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
	fflush(stdout);
}

int main(void)
{
	uint64_t me = getpid();
	int real_euid;

	check("register self", register_handler(me, SYS_geteuid, me, (uint64_t)(uintptr_t)&fake_euid));
	printf("self geteuid=%d\n", (int)geteuid());
	printf("threei geteuid=%d\n", make_threei_call(SYS_geteuid, 0, me, me, 0, 0, 0, 0, 0, 0, 0,
	                                               0, 0, 0, 0, 0, TRANSLATE_ERRNO_ON));
	check("threei unknown", make_threei_call(9999, 0, me, me, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                                         0, 0, TRANSLATE_ERRNO_ON));
	printf("threei unknown raw=%d\n", make_threei_call(9999, 0, me, me, 0, 0, 0, 0, 0, 0, 0, 0,
	                                                   0, 0, 0, 0, TRANSLATE_ERRNO_OFF));

	/* the last three bytes of linear memory, with no NUL after them */
	uint64_t size = (uint64_t)__builtin_wasm_memory_size(0) * 65536;
	memcpy((char *)(uintptr_t)(size - 3), "xyz", 3);
	char buf[8];
	memset(buf, 'Q', sizeof buf);
	check("strncpy at the end", copy_data_between_cages(me, me, size - 3, me,
	                                                    (uint64_t)(uintptr_t)buf, me, 100, 1));
	printf("copied: %.6s\n", buf);
	check("memcpy past the end", copy_data_between_cages(me, me, size - 3, me,
	                                                     (uint64_t)(uintptr_t)buf, me, 100, 0));

	int ready[2], go[2], hold[2];
	pipe(ready);
	pipe(go);
	pipe(hold);
	pid_t sibling = fork();
	if (sibling == 0) { /* waits until the parent closes hold[1] */
		char c;
		close(hold[1]);
		read(hold[0], &c, 1);
		return 0;
	}
	pid_t child = fork();
	if (child == 0) {
		uint64_t self = getpid(), parent = getppid();
		char c;
		printf("child inherited geteuid=%d\n", (int)geteuid());
		fflush(stdout);
		write(ready[1], "r", 1);
		read(go[0], &c, 1);
		printf("child after table copy: geteuid_is_real=%d getgid=%d\n",
		       (int)geteuid() != 4242, (int)getgid());
		check("child targets parent", make_threei_call(SYS_getpid, 0, self, parent, 0, 0, 0, 0,
		                                               0, 0, 0, 0, 0, 0, 0, 0, 1));
		check("child owner parent", make_threei_call(SYS_write, 0, self, self, 1, self,
		                                             0x1000, parent, 1, self, 0, 0, 0, 0, 0, 0, 1));
		check("child copies from parent", copy_data_between_cages(self, parent, 0x1000, parent,
		                                        (uint64_t)(uintptr_t)buf, self, 4, 0));
		check("child copies parent table", copy_handler_table_to_cage(parent, self));
		check("child edits parent table", copy_handler_table_to_cage(self, parent));
		check("child registers for parent", register_handler(parent, SYS_geteuid, self,
		                                        (uint64_t)(uintptr_t)&fake_euid));
		check("child flags parent memory", make_threei_call(SYS_write, 0, self, self, 1, self,
		                                        0x1000, parent | GRATE_MEMORY_FLAG, 1, self,
		                                        0, 0, 0, 0, 0, 0, 1));
		check("child copies into parent", copy_data_between_cages(self, parent,
		                                        (uint64_t)(uintptr_t)buf, self, 0x1000, parent,
		                                        4, 0));
		check("child as self_cageid=parent", make_threei_call(SYS_getpid, 0, parent, parent,
		                                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
		check("child as thiscage=parent", copy_data_between_cages(parent, parent, 0x1000,
		                                        parent, (uint64_t)(uintptr_t)buf, self, 4, 0));
		uint64_t sib = sibling;
		check("child targets sibling", make_threei_call(SYS_getpid, 0, sib, sib, 0, 0, 0, 0,
		                                        0, 0, 0, 0, 0, 0, 0, 0, 1));
		check("child flags sibling memory", make_threei_call(SYS_write, 0, self, self, 1, self,
		                                        0x1000, sib | GRATE_MEMORY_FLAG, 1, self,
		                                        0, 0, 0, 0, 0, 0, 1));
		check("child copies to sibling", copy_data_between_cages(self, sib,
		                                        (uint64_t)(uintptr_t)buf, self, 0x1000, sib,
		                                        4, 0));
		check("child routes to sibling", register_handler(self, SYS_geteuid, sib, 0x1234));
		check("child registers for sibling", register_handler(sib, SYS_geteuid, self,
		                                        (uint64_t)(uintptr_t)&fake_euid));
		check("child copies sibling table", copy_handler_table_to_cage(sib, self));
		static const char own[] = "own memory\n";
		check("child flags own memory", make_threei_call(SYS_write, 0, self, self, 1, self,
		                                        (uint64_t)(uintptr_t)own,
		                                        self | GRATE_MEMORY_FLAG, sizeof own - 1, self,
		                                        0, 0, 0, 0, 0, 0, 1));
		return 0;
	}
	char c;
	read(ready[0], &c, 1);
	check("deregister", register_handler(me, SYS_geteuid, me, 0));
	real_euid = geteuid();
	printf("parent geteuid_is_real=%d\n", real_euid != 4242);
	check("register getgid", register_handler(me, SYS_getgid, me, (uint64_t)(uintptr_t)&fake_gid));
	check("copy table to child", copy_handler_table_to_cage(me, child));
	write(go[1], "g", 1);
	int status;
	waitpid(child, &status, 0);
	printf("child status %d\n", WEXITSTATUS(status));
	close(hold[1]);
	waitpid(sibling, &status, 0);
	printf("sibling status %d\n", WEXITSTATUS(status));
	return 0;
}
