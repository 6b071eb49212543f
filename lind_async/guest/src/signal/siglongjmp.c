/* lind-musl wasm32: siglongjmp restores the mask sigsetjmp saved, then
 * longjmps (see sigsetjmp.c).  Out of a signal handler, the handler ends
 * first (setjmp/longjmp.c), so a signal the restored mask unblocks is
 * delivered at once, as on Linux. */
#include <setjmp.h>
#include <signal.h>
#include "syscall.h"

void __lind_sjlj_leave(void *);

_Noreturn void siglongjmp(sigjmp_buf env, int val)
{
	__lind_sjlj_leave(env);
	if (env->__fl)
		__syscall(SYS_rt_sigprocmask, SIG_SETMASK, env->__ss, 0, _NSIG / 8);
	longjmp(env, val);
}
