/* lind-musl wasm32: struct itimerval already has the x86_64 kernel layout
 * (two 16-byte timevals), so it is passed straight through. */
#include <sys/time.h>
#include "syscall.h"

int getitimer(int which, struct itimerval *old)
{
	return syscall(SYS_getitimer, which, old);
}
