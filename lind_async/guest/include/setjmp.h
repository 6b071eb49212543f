/* lind-musl wasm32: <setjmp.h>.
 *
 * The interface is musl's; what differs is how the jump points are made.
 * wasm has no registers or stack to save, so setjmp/longjmp are lowered by
 * the compiler into wasm exception handling (cc builds every program with
 * -mexception-handling -mllvm -wasm-enable-sjlj; the runtime functions live
 * in libc, src/setjmp/longjmp.c).  That lowering knows only the names setjmp
 * and longjmp, so the other jump points are macros over them:
 *
 *   _setjmp / _longjmp          the same as setjmp / longjmp (neither saves
 *                               the signal mask here)
 *   sigsetjmp(env, savemask)    records the mask in env, then setjmp(env);
 *                               siglongjmp restores it, then longjmps.
 *
 * __jmp_buf (bits/setjmp.h) holds the runtime's bookkeeping: the id of the
 * setjmp call that filled it and the {env, value} pair a longjmp throws. */
#ifndef	_SETJMP_H
#define	_SETJMP_H

#ifdef __cplusplus
extern "C" {
#endif

#include <features.h>

#include <bits/setjmp.h>

typedef struct __jmp_buf_tag {
	__jmp_buf __jb;
	unsigned long __fl;
	unsigned long __ss[128/sizeof(long)];
} jmp_buf[1];

#define __setjmp_attr __attribute__((__returns_twice__))

int setjmp (jmp_buf) __setjmp_attr;
_Noreturn void longjmp (jmp_buf, int);

#if defined(_POSIX_SOURCE) || defined(_POSIX_C_SOURCE) \
 || defined(_XOPEN_SOURCE) || defined(_GNU_SOURCE) \
 || defined(_BSD_SOURCE)
typedef jmp_buf sigjmp_buf;
int (sigsetjmp) (sigjmp_buf, int) __setjmp_attr;
_Noreturn void siglongjmp (sigjmp_buf, int);
struct __jmp_buf_tag *__lind_sigsetjmp_save (struct __jmp_buf_tag *, int);
#define sigsetjmp(env, savemask) setjmp(__lind_sigsetjmp_save((env), (savemask)))
#endif

#if defined(_XOPEN_SOURCE) || defined(_GNU_SOURCE) \
 || defined(_BSD_SOURCE)
int (_setjmp) (jmp_buf) __setjmp_attr;
_Noreturn void _longjmp (jmp_buf, int);
#define _setjmp setjmp
#define _longjmp longjmp
#endif

#define setjmp setjmp

#undef __setjmp_attr

#ifdef __cplusplus
}
#endif

#endif
