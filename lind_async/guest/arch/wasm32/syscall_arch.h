/* lind-musl wasm32: how libc makes a system call.
 *
 * Every __syscallN becomes one call of the host import lind.syscall:
 *
 *     (import "lind" "syscall" (func (param i32 i64 i64 i64 i64 i64 i64) (result i64)))
 *
 * lind.syscall is a *synchronous* host call (the cheap path: most calls
 * complete at once).  When a call must wait (an empty pipe, a sleep), the
 * runtime parks it and answers LIND_WOULD_WAIT, a value no system call
 * returns; libc then calls the *asynchronous* import lind.syscall_wait(),
 * which suspends only this cage's fiber until the parked call completes and
 * returns its result.  The call is never made twice.
 *
 * Either import may instead answer LIND_SIGNAL: a signal handler must run
 * before the call returns.  libc then runs it right here, on the calling
 * thread's own stack (so the handler may fork, or longjmp out), and the
 * runtime answers with the call's result, or with more to do
 * (__lind_syscall_slow, src/lind/signal.c).
 *
 * with Linux x86_64 call numbers.  Each argument is widened to 64 bits
 * (syscall_arg_t is long long, as in musl's x32 port): signed integers are
 * sign-extended, unsigned integers and pointers zero-extended (a pointer is
 * an offset into the cage's linear memory).  64-bit values such as off_t
 * travel whole in one slot.  The result is an i64, -errno on failure; libc
 * keeps the low 32 bits (long), which is exact for every call except lseek,
 * whose wrapper reads the full 64-bit result itself.
 *
 * fork is special: it must unwind/rewind the wasm stack, so it has its own
 * import lind.fork() -> i64, used when a call site asks for SYS_fork.  The
 * test is on a compile-time constant, so only objects that really fork
 * (musl's _Fork) reference the import. */

#define __SYSCALL_LL_E(x) (x)
#define __SYSCALL_LL_O(x) (x)

#define __scc(X) ((long long)(X))
typedef long long syscall_arg_t;

long long __lind_syscall_now(int, long long, long long, long long, long long,
                             long long, long long)
	__attribute__((__import_module__("lind"), __import_name__("syscall")));
long long __lind_syscall_wait(void)
	__attribute__((__import_module__("lind"), __import_name__("syscall_wait")));

#define LIND_WOULD_WAIT (-0x7fffffffffffffffLL - 1)
/* Answered instead of a result when a signal handler must run before the call returns: libc
 * runs it on this thread's own stack (src/lind/signal.c), then asks for what comes next. */
#define LIND_SIGNAL (-0x7fffffffffffffffLL)

long long __lind_syscall_slow(long long);

static inline long long __lind_syscall(int n, long long a, long long b, long long c,
                                       long long d, long long e, long long f)
{
	long long r = __lind_syscall_now(n, a, b, c, d, e, f);
	if (__builtin_expect(r <= LIND_SIGNAL, 0)) r = __lind_syscall_slow(r);
	return r;
}
long long __lind_fork(void)
	__attribute__((__import_module__("lind"), __import_name__("fork")));

static inline long __syscall0(long long n)
{
	if (__builtin_constant_p(n) && n == SYS_fork) return __lind_fork();
	return __lind_syscall(n, 0, 0, 0, 0, 0, 0);
}

static inline long __syscall1(long long n, long long a)
{
	return __lind_syscall(n, a, 0, 0, 0, 0, 0);
}

static inline long __syscall2(long long n, long long a, long long b)
{
	return __lind_syscall(n, a, b, 0, 0, 0, 0);
}

static inline long __syscall3(long long n, long long a, long long b, long long c)
{
	return __lind_syscall(n, a, b, c, 0, 0, 0);
}

static inline long __syscall4(long long n, long long a, long long b, long long c,
                              long long d)
{
	return __lind_syscall(n, a, b, c, d, 0, 0);
}

static inline long __syscall5(long long n, long long a, long long b, long long c,
                              long long d, long long e)
{
	return __lind_syscall(n, a, b, c, d, e, 0);
}

static inline long __syscall6(long long n, long long a, long long b, long long c,
                              long long d, long long e, long long f)
{
	return __lind_syscall(n, a, b, c, d, e, f);
}
