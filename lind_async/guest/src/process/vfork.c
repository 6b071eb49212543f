/* lind-musl wasm32: vfork is fork (which POSIX allows); the cage's fork goes
 * through the lind.fork import. */
#define _GNU_SOURCE
#include <unistd.h>

pid_t vfork(void)
{
	return fork();
}
