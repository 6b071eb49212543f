/* lind-musl wasm32: free is an alias of __libc_free in malloc/oldmalloc/malloc.c (one call
 * less per free in wasm); this file replaces musl's one-line wrapper. */
