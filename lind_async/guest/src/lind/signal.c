/* lind-musl: the slow path of a system call, and signal handlers run on the caller's stack.
 *
 * lind.syscall (and lind.syscall_wait) answer LIND_WOULD_WAIT when the call must wait, and
 * LIND_SIGNAL when a signal handler must run before the call returns.  For a handler, libc asks
 * the runtime for it (lind.signal_frame: the handler, the signal, SA_SIGINFO, and the siginfo_t
 * written into this frame), calls it here, on the thread's own stack, and tells the runtime it
 * returned (lind.signal_return), which restores the signal mask and answers with the call's
 * result, with LIND_WOULD_WAIT (the call is restarted and waits) or with LIND_SIGNAL again.
 * Because the handler runs on the interrupted thread's stack, it may fork (the child returns
 * from the handler and from the interrupted call, as on Linux) or longjmp out of it.
 *
 * Leaving a handler by longjmp: __lind_handler_depth counts the handlers running on this thread;
 * setjmp records it in the jmp_buf and longjmp brings it back to that value (setjmp/longjmp.c).
 * The runtime is told where the counter is (the frame's `depth`) and reads it when it must know
 * whether the handler is still running: below the value it had when the handler started, the
 * handler was left by longjmp and has ended.
 *
 * Signals that arrive while the thread computes: a module whose loops were instrumented by the
 * toolchain (toolchain/signal_poll.py) tests a per-instance flag at every loop header; the
 * runtime raises it at a preemption point and the loop calls __lind_signal_poll, which asks for
 * the handler (lind.signal_frame with no frame) and runs it here, on this thread's stack, like
 * one due at a system call's return. */
#include <signal.h>
#include "syscall.h"

struct lind_signal_frame {
	void *handler;  /* out (the runtime writes these three) */
	int signo;
	int with_info;
	unsigned *depth; /* in: where this thread counts its running handlers */
};

_Thread_local unsigned __lind_handler_depth;

long long __lind_signal_frame(struct lind_signal_frame *, siginfo_t *)
	__attribute__((__import_module__("lind"), __import_name__("signal_frame")));
long long __lind_signal_return(void)
	__attribute__((__import_module__("lind"), __import_name__("signal_return")));

static long long run_handler(void)
{
	struct lind_signal_frame frame;
	siginfo_t info;
	frame.depth = &__lind_handler_depth;
	long long r = __lind_signal_frame(&frame, &info);
	if (r < 0) return r;
	unsigned depth = __lind_handler_depth++;
	if (frame.with_info)
		((void (*)(int, siginfo_t *, void *))frame.handler)(frame.signo, &info, 0);
	else
		((void (*)(int))frame.handler)(frame.signo);
	__lind_handler_depth = depth;
	return __lind_signal_return();
}

long long __lind_syscall_slow(long long r)
{
	for (;;) {
		if (r == LIND_WOULD_WAIT)
			r = __lind_syscall_wait();
		else if (r == LIND_SIGNAL)
			r = run_handler();
		else
			return r;
	}
}

/* Called from an instrumented loop header when the runtime raised this instance's poll flag (a
 * signal arrived while the thread computed): deliver what is due now.  Nothing is due (it was
 * delivered meanwhile, or a call of this thread is in progress): lind.signal_frame answers 0. */
__attribute__((__export_name__("__lind_signal_poll")))
void __lind_signal_poll(void)
{
	long long r = __lind_signal_frame(0, 0);
	if (r <= LIND_SIGNAL)
		__lind_syscall_slow(r);
}
