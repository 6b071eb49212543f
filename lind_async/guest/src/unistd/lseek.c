/* lind-musl wasm32: lseek needs the full 64-bit result of the syscall
 * (musl's generic path truncates results to a 32-bit long). */
#include <unistd.h>
#include <errno.h>
#include "syscall.h"

off_t __lseek(int fd, off_t offset, int whence)
{
	long long r = __lind_syscall(SYS_lseek, fd, offset, whence, 0, 0, 0);
	if (r < 0 && r > -4096) {
		errno = -r;
		return -1;
	}
	return r;
}

weak_alias(__lseek, lseek);
