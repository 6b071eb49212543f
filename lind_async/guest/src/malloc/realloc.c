/* lind-musl wasm32: realloc is an alias of __libc_realloc in malloc/oldmalloc/malloc.c (one
 * call less per realloc in wasm); this file replaces musl's one-line wrapper. */
