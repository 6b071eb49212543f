/* lind-musl wasm32: struct k_sigaction, the rt_sigaction argument as the
 * runtime reads and writes it (20 bytes, little-endian, 4-byte aligned):
 *
 *   offset 0  u32 handler   function-table index, or SIG_DFL(0)/SIG_IGN(1)
 *   offset 4  u32 flags     SA_* (Linux values, no SA_RESTORER)
 *   offset 8  u32 mask[2]   64-bit kernel signal set, bit (sig-1)
 *   offset 16 u32 unused    ignored
 *
 * The table for the runtime is lind_async/abi/layouts.py (K_SIGACTION). */
#include <features.h>

struct k_sigaction {
	void (*handler)(int);
	unsigned long flags;
	unsigned mask[2];
	void *unused;
};

hidden void __restore(), __restore_rt();
