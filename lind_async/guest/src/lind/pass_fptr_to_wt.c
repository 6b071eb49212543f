/* lind-musl: the default grate entry point.
 *
 * The runtime runs a grate's registered handler by calling the grate's
 * export pass_fptr_to_wt(fn, cageid, arg1, arg1cage, ..., arg6, arg6cage),
 * which calls the handler.  Lind grates define it themselves; this weak
 * definition serves the others (`cc --grate` exports whichever is linked).
 * fn is a function pointer (an index into the module's function table) of
 * Lind's handler type: int (uint64_t x 13).  0 is no handler.
 *
 * __lind_default_grate_entry is defined only when this default is linked
 * (a grate that defines pass_fptr_to_wt itself does not pull this object in):
 * it tells the runtime that fn values are function-table indices, which
 * register_handler then checks (present, of the handler type). */
#include <errno.h>
#include <stdint.h>

typedef int (*__lind_grate_handler)(uint64_t, uint64_t, uint64_t, uint64_t,
	uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
	uint64_t, uint64_t);

__attribute__((__export_name__("__lind_default_grate_entry")))
int __lind_default_grate_entry(void) { return 1; }

__attribute__((__weak__))
int pass_fptr_to_wt(uint64_t fn, uint64_t cageid,
	uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2, uint64_t a3, uint64_t c3,
	uint64_t a4, uint64_t c4, uint64_t a5, uint64_t c5, uint64_t a6, uint64_t c6)
{
	if (!fn || fn > UINTPTR_MAX) return -ENOSYS;
	return ((__lind_grate_handler)(uintptr_t)fn)(cageid,
		a1, c1, a2, c2, a3, c3, a4, c4, a5, c5, a6, c6);
}
