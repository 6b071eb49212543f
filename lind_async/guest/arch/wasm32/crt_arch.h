/* lind-musl wasm32: the process entry point is written in C
 * (lind_async/guest/crt/crt1.c); musl's assembly _start stub is not used.
 * This header exists for the few sources that include it. */
