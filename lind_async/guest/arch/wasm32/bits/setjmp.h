/* lind-musl wasm32: jmp_buf storage.  wasm has no registers to save; the
 * (future) setjmp runtime keeps its bookkeeping here.  Eight 64-bit slots
 * leave room for it. */
typedef unsigned long long __jmp_buf[8];
