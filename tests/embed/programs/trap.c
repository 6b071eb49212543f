/* crashes: a wasm trap (unreachable), which is SIGILL for the cage */
int main(void) { __builtin_trap(); }
