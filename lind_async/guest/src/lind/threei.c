/* lind-musl: the grate API of <lind_syscall.h>.
 *
 * make_threei_call is the host import lind.threei_call, used like
 * lind.syscall (see arch/wasm32/syscall_arch.h): a synchronous call that
 * answers LIND_WOULD_WAIT when the call has to wait, after which
 * lind.syscall_wait() suspends this fiber until it ends:
 *
 *     (import "lind" "threei_call"
 *       (func (param i32 i64  i64 i64  i64 i64  i64 i64  i64 i64  i64 i64  i64 i64)
 *             (result i64)))        nr, target, (arg, argcage) x 6
 *
 * The three 3i operations are ordinary system calls 1001-1003 (so a grate
 * below can interpose on them), packed into six slots:
 *
 *     register_handler(targetcage, callnum, handler_cage, fn)              1001
 *     copy_data_between_cages(targetcage, src, dst,
 *                             srccage << 32 | dstcage, len, copytype)      1002
 *     copy_handler_table_to_cage(srccage, targetcage)                      1003
 */
#include <errno.h>
#include <stdint.h>
#include <lind_syscall.h>
#include "syscall.h"

long long __lind_threei_call_now(int, long long,
	long long, long long, long long, long long, long long, long long,
	long long, long long, long long, long long, long long, long long)
	__attribute__((__import_module__("lind"), __import_name__("threei_call")));

int64_t lind_threei_call(unsigned int nr, uint64_t target,
	uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3, uint64_t c3,
	uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6, uint64_t c6)
{
	long long r = __lind_threei_call_now((int)nr, target,
		a1, c1, a2, c2, a3, c3, a4, c4, a5, c5, a6, c6);
	if (__builtin_expect(r == LIND_WOULD_WAIT, 0)) r = __lind_syscall_wait();
	return r;
}

int make_threei_call(unsigned int nr, uint64_t callname,
	uint64_t self_cageid, uint64_t target,
	uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3, uint64_t c3,
	uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6, uint64_t c6,
	int translate_errno)
{
	(void)callname;
	(void)self_cageid; /* the runtime knows the caller */
	int64_t r = lind_threei_call(nr, target, a1, c1, a2, c2, a3, c3, a4, c4, a5, c5, a6, c6);
	if (translate_errno && r < 0 && r >= -4095) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

int register_handler(uint64_t targetcage, uint64_t callnum, uint64_t grate, uint64_t fn)
{
	return __syscall_ret(__syscall(SYS_register_handler, targetcage, callnum, grate, fn));
}

int copy_data_between_cages(uint64_t thiscage, uint64_t targetcage,
	uint64_t srcaddr, uint64_t srccage, uint64_t destaddr, uint64_t destcage,
	uint64_t len, uint64_t copytype)
{
	(void)thiscage;
	uint64_t cages = (srccage & 0xffffffffULL) << 32 | (destcage & 0xffffffffULL);
	return __syscall_ret(__syscall(SYS_copy_data_between_cages, targetcage,
		srcaddr, destaddr, cages, len, copytype));
}

int copy_handler_table_to_cage(uint64_t srccage, uint64_t targetcage)
{
	return __syscall_ret(__syscall(SYS_copy_handler_table_to_cage, srccage, targetcage));
}
