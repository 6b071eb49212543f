/* lind-musl: the slow path of a system call, and signal handlers run on the caller's stack.
 *
 * lind.syscall (and lind.syscall_wait) answer LIND_WOULD_WAIT when the call must wait, and
 * LIND_SIGNAL when a signal handler must run before the call returns.  For a handler, libc asks
 * the runtime for it (lind.signal_frame: the handler, the signal, SA_SIGINFO, and the siginfo_t
 * written into this frame), calls it here, on the thread's own stack, and tells the runtime it
 * returned (lind.signal_return), which restores the signal mask and answers with the call's
 * result, with LIND_WOULD_WAIT (the call is restarted and waits) or with LIND_SIGNAL again.
 * Because the handler runs on the interrupted thread's stack, it may fork (the child returns
 * from the handler and from the interrupted call, as on Linux) or longjmp out of it. */
#include <signal.h>
#include "syscall.h"

struct lind_signal_frame {
	void *handler;
	int signo;
	int with_info;
};

long long __lind_signal_frame(struct lind_signal_frame *, siginfo_t *)
	__attribute__((__import_module__("lind"), __import_name__("signal_frame")));
long long __lind_signal_return(void)
	__attribute__((__import_module__("lind"), __import_name__("signal_return")));

static long long run_handler(void)
{
	struct lind_signal_frame frame;
	siginfo_t info;
	long long r = __lind_signal_frame(&frame, &info);
	if (r < 0) return r;
	if (frame.with_info)
		((void (*)(int, siginfo_t *, void *))frame.handler)(frame.signo, &info, 0);
	else
		((void (*)(int))frame.handler)(frame.signo);
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
