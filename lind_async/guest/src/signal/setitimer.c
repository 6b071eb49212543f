/* lind-musl wasm32: struct itimerval already has the x86_64 kernel layout
 * (two 16-byte timevals), so it is passed straight through. */
#include <sys/time.h>
#include "syscall.h"

int setitimer(int which, const struct itimerval *restrict new, struct itimerval *restrict old)
{
	return syscall(SYS_setitimer, which, new, old);
}
