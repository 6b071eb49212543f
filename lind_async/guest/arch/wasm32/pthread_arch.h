/* lind-musl wasm32: the thread pointer.
 *
 * wasm has no thread-pointer register.  The thread pointer is a
 * _Thread_local variable, __lind_tp, that holds the address of the thread's
 * struct pthread (musl's TLS-below-TP layout, TP_ADJ(p) == p).  A
 * _Thread_local lives in the block addressed by the linker's __tls_base
 * global, which is per instance: the main thread uses the static TLS block
 * wasm-ld sets up in __wasm_init_memory, and each future thread (its own
 * Store + Instance over the shared memory) first calls __wasm_init_tls on a
 * fresh block, then __set_thread_area. */

extern hidden _Thread_local unsigned long __lind_tp;

static inline uintptr_t __get_tp(void)
{
	return __lind_tp;
}

#define MC_PC __pc
