/* lind-musl wasm32: sigsetjmp/siglongjmp.
 *
 * <setjmp.h> defines sigsetjmp(env, save) as
 * setjmp(__lind_sigsetjmp_save(env, save)), so the jump point itself is a
 * plain setjmp that clang's SjLj lowering handles (see setjmp/longjmp.c).
 * __lind_sigsetjmp_save records whether the mask is saved (__fl) and the
 * current mask (__ss); siglongjmp restores that mask before jumping, which
 * is when POSIX wants it restored. */
#include <setjmp.h>
#include <signal.h>
#include "syscall.h"

struct __jmp_buf_tag *__lind_sigsetjmp_save(struct __jmp_buf_tag *env, int savemask)
{
	env->__fl = savemask != 0;
	if (savemask)
		__syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, env->__ss, _NSIG / 8);
	return env;
}

/* For code built without the lowering (see setjmp/setjmp.c). */
int (sigsetjmp)(sigjmp_buf env, int savemask)
{
	__lind_sigsetjmp_save(env, savemask);
	return (setjmp)(env);
}
