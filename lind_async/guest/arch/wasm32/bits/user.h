/* lind-musl wasm32: there is no ptrace register file for wasm. */
#undef __WORDSIZE
#define __WORDSIZE 32

struct user {
	unsigned long __unused[32];
};
