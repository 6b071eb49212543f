/* A Lind-style grate (its own pass_fptr_to_wt, int handlers): geteuid
 * answers 4242 and getgid 777 for the program it runs. */
#include <lind_syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define GETGID_SYSCALL 104
#define GETEUID_SYSCALL 107

typedef int (*handler_t)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                         uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

int pass_fptr_to_wt(uint64_t fn_ptr_uint, uint64_t cageid, uint64_t arg1, uint64_t arg1cage,
                    uint64_t arg2, uint64_t arg2cage, uint64_t arg3, uint64_t arg3cage,
                    uint64_t arg4, uint64_t arg4cage, uint64_t arg5, uint64_t arg5cage,
                    uint64_t arg6, uint64_t arg6cage)
{
	if (fn_ptr_uint == 0) return -1;
	handler_t fn = (handler_t)(uintptr_t)fn_ptr_uint;
	return fn(cageid, arg1, arg1cage, arg2, arg2cage, arg3, arg3cage, arg4, arg4cage, arg5,
	          arg5cage, arg6, arg6cage);
}

int geteuid_grate(uint64_t cageid, uint64_t arg1, uint64_t arg1cage, uint64_t arg2,
                  uint64_t arg2cage, uint64_t arg3, uint64_t arg3cage, uint64_t arg4,
                  uint64_t arg4cage, uint64_t arg5, uint64_t arg5cage, uint64_t arg6,
                  uint64_t arg6cage)
{
	return 4242;
}

int getgid_grate(uint64_t cageid, uint64_t arg1, uint64_t arg1cage, uint64_t arg2,
                 uint64_t arg2cage, uint64_t arg3, uint64_t arg3cage, uint64_t arg4,
                 uint64_t arg4cage, uint64_t arg5, uint64_t arg5cage, uint64_t arg6,
                 uint64_t arg6cage)
{
	/* forward to the runtime as the caller, then answer something else */
	int real = make_threei_call(GETGID_SYSCALL, 0, cageid, arg1cage, arg1, arg1cage, arg2,
	                            arg2cage, arg3, arg3cage, arg4, arg4cage, arg5, arg5cage,
	                            arg6, arg6cage, 0);
	return real >= 0 ? 777 : real;
}

int main(int argc, char *argv[])
{
	if (argc < 2) {
		printf("Usage: %s <cage_file>\n", argv[0]);
		exit(EXIT_FAILURE);
	}
	int grateid = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork failed");
		exit(EXIT_FAILURE);
	} else if (pid == 0) {
		int cageid = getpid();
		register_handler(cageid, GETEUID_SYSCALL, grateid, (uint64_t)(uintptr_t)&geteuid_grate);
		register_handler(cageid, GETGID_SYSCALL, grateid, (uint64_t)(uintptr_t)&getgid_grate);
		if (execv(argv[1], &argv[1]) == -1) {
			perror("execv failed");
			exit(EXIT_FAILURE);
		}
	}
	int status;
	while (wait(&status) > 0)
		;
	return WEXITSTATUS(status);
}
