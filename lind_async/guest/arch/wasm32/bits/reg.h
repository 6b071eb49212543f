/* lind-musl wasm32: wasm has no addressable machine registers. */
#undef __WORDSIZE
#define __WORDSIZE 32
