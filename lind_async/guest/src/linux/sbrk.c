/* lind-musl wasm32: sbrk(3) over the real program break (upstream musl accepts only sbrk(0)).
 * Returns the previous break; ENOMEM when the increment wraps or the kernel refuses the move.
 * The break is read from the kernel every time (no cached copy to go stale across fork or a
 * malloc that moved it with the raw syscall). */
#define _BSD_SOURCE
#include <unistd.h>
#include <stdint.h>
#include <errno.h>
#include "syscall.h"

void *sbrk(intptr_t inc)
{
	uintptr_t old = __syscall(SYS_brk, 0);
	if (!inc) return (void *)old;
	uintptr_t want = old + (uintptr_t)inc;
	int wraps = inc > 0 ? want < old : want > old;
	if (wraps || (uintptr_t)__syscall(SYS_brk, want) != want) {
		errno = ENOMEM;
		return (void *)-1;
	}
	return (void *)old;
}
