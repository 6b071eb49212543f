/* lind-musl: the grate API (3i), source-compatible with Lind-Wasm's <lind_syscall.h>.
 *
 * A grate is an ordinary cage program that serves other cages' system calls.
 * It forks; the child registers the grate's handlers for itself and execs the
 * program to serve, which keeps the routes (fork copies a cage's handler
 * table, exec keeps it):
 *
 *     int grate = getpid();
 *     if (fork() == 0) {
 *         register_handler(getpid(), SYS_geteuid, grate, (uint64_t)(uintptr_t)&my_geteuid);
 *         execv(argv[1], &argv[1]);
 *     }
 *     while (wait(NULL) > 0) ;
 *
 * A handler runs in the grate (on a worker instance of its own, with its own
 * stack and thread descriptor) each time a cage routed to it makes the call:
 *
 *     int handler(uint64_t cageid,                  the calling cage
 *                 uint64_t arg1, uint64_t arg1cage,  each argument and the cage
 *                 ...                                that owns it (whose memory a
 *                 uint64_t arg6, uint64_t arg6cage)  pointer is in, whose fd an fd is)
 *
 * Its result is the call's result (-errno on failure).  The runtime enters
 * every handler through the grate's export pass_fptr_to_wt(fn, cageid, arg1,
 * arg1cage, ...), which a grate may define itself; `cc --grate` links a default
 * that calls fn with those thirteen arguments (so the handler must have the
 * int-returning signature above).
 *
 * make_threei_call(nr, 0, self, target, arg1, arg1cage, ..., translate_errno)
 * passes a call on *as* target: it is looked up in the grate's own handler
 * table (the grate below, or the runtime) and executed with target's fd table,
 * cwd and identity.  Each pointer argument is read in the memory of the cage
 * named in its argNcage slot; GRATE_MEMORY_FLAG | <own cage id> names the
 * grate's own memory.  self_cageid is accepted for compatibility and ignored
 * (the runtime knows who is calling).  With TRANSLATE_ERRNO_ON a result in
 * [-4095, -1] becomes -1 with errno set; otherwise the raw result is returned.
 *
 * Every cage id a grate names (target, argument owner, copy end, table) must
 * be itself, a cage whose call is in flight through it, or a descendant;
 * anything else fails with EPERM.  Unknown call numbers give ENOSYS.
 *
 * Pointers are plain offsets into a cage's linear memory: there is no host
 * address translation in lind_async, so Lind's translation macros below are
 * identities. */
#ifndef _LIND_SYSCALL_H
#define _LIND_SYSCALL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bit 63 of an argNcage slot: "this pointer is in my (the grate's) memory". */
#define GRATE_MEMORY_FLAG (1ULL << 63)

#define TRANSLATE_ERRNO_ON 1
#define TRANSLATE_ERRNO_OFF 0

/* A filler for unused argument slots. */
#define NOTUSED 0xdeadbeefdeadbeefULL

/* copy_data_between_cages copy types */
#define LIND_COPY_MEMCPY 0
#define LIND_COPY_STRNCPY 1

/* 3i's own call numbers (also in <sys/syscall.h> as SYS_register_handler ...). */
#define REGISTER_HANDLER_SYSCALL 1001
#define COPY_DATA_BETWEEN_CAGES_SYSCALL 1002
#define COPY_HANDLER_TABLE_TO_CAGE_SYSCALL 1003

int make_threei_call(unsigned int callnumber, uint64_t callname,
	uint64_t self_cageid, uint64_t target_cageid,
	uint64_t arg1, uint64_t arg1cageid,
	uint64_t arg2, uint64_t arg2cageid,
	uint64_t arg3, uint64_t arg3cageid,
	uint64_t arg4, uint64_t arg4cageid,
	uint64_t arg5, uint64_t arg5cageid,
	uint64_t arg6, uint64_t arg6cageid,
	int translate_errno);

/* The same call with the full 64-bit result and no errno translation (a
 * lind_async extension: lseek offsets, mmap addresses above 2 GiB). */
int64_t lind_threei_call(unsigned int callnumber, uint64_t target_cageid,
	uint64_t arg1, uint64_t arg1cageid,
	uint64_t arg2, uint64_t arg2cageid,
	uint64_t arg3, uint64_t arg3cageid,
	uint64_t arg4, uint64_t arg4cageid,
	uint64_t arg5, uint64_t arg5cageid,
	uint64_t arg6, uint64_t arg6cageid);

/* Route targetcallnum of targetcage to the handler at in_grate_fn_ptr_u64 in
 * this_grate_id (0 as the handler: back to the runtime).  -1/errno on failure. */
int register_handler(uint64_t targetcage, uint64_t targetcallnum,
	uint64_t this_grate_id, uint64_t in_grate_fn_ptr_u64);

/* Copy len bytes (copytype 0) or a NUL-terminated string of at most len
 * bytes (copytype 1; stops without faulting at the end of readable memory)
 * from srcaddr in srccage to destaddr in destcage.  thiscage is ignored. */
int copy_data_between_cages(uint64_t thiscage, uint64_t targetcage,
	uint64_t srcaddr, uint64_t srccage,
	uint64_t destaddr, uint64_t destcage,
	uint64_t len, uint64_t copytype);

/* Replace targetcage's handler table with a copy of srccage's. */
int copy_handler_table_to_cage(uint64_t srccage, uint64_t targetcage);

/* Lind's address translation: identities here. */
#define __lind_base ((uint64_t)0)
static inline void __lind_init_addr_translation(void) {}
static inline uint64_t __lind_translate_ptr_to_host(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}
#define TRANSLATE_GUEST_POINTER_TO_HOST(p) ((uint64_t)(uintptr_t)(p))
#define TRANSLATE_HOST_POINTER_TO_GUEST(p) ((void *)(uintptr_t)(p))

#ifdef __cplusplus
}
#endif

#endif
