/* lind-musl wasm32: brk(2) moves the program break RawPOSIX keeps in the cage's vmmap (upstream
 * musl refuses it with ENOMEM). Like glibc: the call fails (ENOMEM) only when the break the
 * kernel answers is below the one asked for; the kernel answers the old break on failure. */
#define _BSD_SOURCE
#include <unistd.h>
#include <stdint.h>
#include <errno.h>
#include "syscall.h"

int brk(void *end)
{
	uintptr_t now = __syscall(SYS_brk, end);
	if (now < (uintptr_t)end) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
