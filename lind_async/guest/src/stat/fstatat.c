/* lind-musl wasm32: stat family.
 *
 * The user's struct stat is the x86_64 kernel layout (arch/wasm32/bits/stat.h),
 * so the runtime writes it directly.  Calls map to x86_64 syscalls:
 * fstat(fd) -> SYS_fstat, stat/lstat of a path -> SYS_stat/SYS_lstat when
 * relative to the cwd or absolute, everything else -> SYS_newfstatat. */
#define _BSD_SOURCE
#include <sys/stat.h>
#include <fcntl.h>
#include <errno.h>
#include "syscall.h"

int __fstatat(int fd, const char *restrict path, struct stat *restrict st, int flag)
{
	int ret;
	if (flag == AT_EMPTY_PATH && fd >= 0 && !*path)
		ret = __syscall(SYS_fstat, fd, st);
	else if ((fd == AT_FDCWD || *path == '/') && flag == AT_SYMLINK_NOFOLLOW)
		ret = __syscall(SYS_lstat, path, st);
	else if ((fd == AT_FDCWD || *path == '/') && !flag)
		ret = __syscall(SYS_stat, path, st);
	else
		ret = __syscall(SYS_newfstatat, fd, path, st, flag);
	return __syscall_ret(ret);
}

weak_alias(__fstatat, fstatat);
