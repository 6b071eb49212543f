/* lind-musl wasm32: cancellable system calls without assembly.
 *
 * On other archs __syscall_cp_asm is an assembly routine whose labels
 * __cp_begin/__cp_end let the cancellation signal handler see whether the
 * thread is blocked inside the syscall instruction.  A wasm signal is
 * delivered by the runtime at a safe point, never with a program counter
 * inside this function, so the labels are plain markers that no pc can match
 * and cancellation is acted on here, before the call (deferred cancellation
 * still works; a call already blocked is not interrupted). */
#include "pthread_impl.h"
#include "syscall.h"

hidden long __cancel(void);

hidden const char __cp_begin[1], __cp_end[1], __cp_cancel[1];

hidden long __syscall_cp_asm(volatile int *cancel, syscall_arg_t nr,
                             syscall_arg_t u, syscall_arg_t v, syscall_arg_t w,
                             syscall_arg_t x, syscall_arg_t y, syscall_arg_t z)
{
	if (*cancel) return __cancel();
	return __lind_syscall(nr, u, v, w, x, y, z);
}
