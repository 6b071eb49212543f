/* lind-musl wasm32: a detached thread frees its own stack and exits.
 * wasm keeps return addresses and locals off the linear-memory stack, and
 * this function uses no shadow-stack frame, so it may unmap the stack it
 * nominally runs on and then make the exit call. */
#include "pthread_impl.h"
#include "syscall.h"

void __unmapself(void *base, size_t size)
{
	__syscall(SYS_munmap, base, size);
	for (;;) __syscall(SYS_exit, 0);
}
