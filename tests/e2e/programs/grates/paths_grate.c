/* Mixed argument owners: open("/secret") is passed on with a path from the
 * grate's own memory (GRATE_MEMORY_FLAG) and the caller's flags; getcwd is
 * answered by writing into the caller's buffer with copy_data_between_cages.
 * Handlers enter through the default pass_fptr_to_wt. */
#include <errno.h>
#include <lind_syscall.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t self_id;
static const char public_path[] = "/public.txt";
static const char fake_cwd[] = "/imaginary";

int open_grate(uint64_t cage, uint64_t path, uint64_t pathcage, uint64_t flags,
               uint64_t flagscage, uint64_t mode, uint64_t modecage, uint64_t a4, uint64_t c4,
               uint64_t a5, uint64_t c5, uint64_t a6, uint64_t c6)
{
	char name[256];
	name[255] = 0;
	if (copy_data_between_cages(self_id, cage, path, pathcage, (uint64_t)(uintptr_t)name,
	                            self_id, 255, 1) < 0)
		return -EFAULT;
	if (!strcmp(name, "/secret")) {
		path = (uint64_t)(uintptr_t)public_path;
		pathcage = self_id | GRATE_MEMORY_FLAG;
	}
	return make_threei_call(SYS_open, 0, self_id, cage, path, pathcage, flags, flagscage, mode,
	                        modecage, a4, c4, a5, c5, a6, c6, TRANSLATE_ERRNO_OFF);
}

int getcwd_grate(uint64_t cage, uint64_t buf, uint64_t bufcage, uint64_t size,
                 uint64_t sizecage, uint64_t a3, uint64_t c3, uint64_t a4, uint64_t c4,
                 uint64_t a5, uint64_t c5, uint64_t a6, uint64_t c6)
{
	if (size < sizeof fake_cwd) return -ERANGE;
	if (copy_data_between_cages(self_id, cage, (uint64_t)(uintptr_t)fake_cwd, self_id, buf,
	                            bufcage, sizeof fake_cwd, 0) < 0)
		return -EFAULT;
	return sizeof fake_cwd;
}

int main(int argc, char *argv[])
{
	self_id = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		register_handler(getpid(), SYS_open, self_id, (uint64_t)(uintptr_t)&open_grate);
		register_handler(getpid(), SYS_getcwd, self_id, (uint64_t)(uintptr_t)&getcwd_grate);
		execv(argv[1], &argv[1]);
		perror("execv");
		return 127;
	}
	int status;
	waitpid(pid, &status, 0);
	return WEXITSTATUS(status);
}
