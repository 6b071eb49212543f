/* CPU-bound work: `compute_loop N` runs N rounds of integer and floating-point mixing and prints
 * "<checksum> <CPU ns>". Only libc's printf/clock_gettime/atol: it builds natively, as a cage
 * and for plain WASI (zig cc -target wasm32-wasi), so all three run the same code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec t;
#ifdef CLOCK_PROCESS_CPUTIME_ID
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* CPU time: steadier on a shared machine */
#else
    clock_gettime(CLOCK_MONOTONIC, &t); /* WASI has none: bench_compute measures CPU itself */
#endif
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    uint64_t h = 1469598103934665603ULL;
    double x = 0.5;
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        h ^= (uint64_t)i;
        h *= 1099511628211ULL;
        h ^= h >> 29;
        x = x * 3.7 * (1.0 - x);          /* logistic map: stays in (0, 1) */
        if ((i & 1023) == 0) h += (uint64_t)(x * 1e6);
    }
    double elapsed = now_ns() - start;
    printf("%llu %.0f\n", (unsigned long long)(h ^ (uint64_t)(x * 1e9)), elapsed);
    return 0;
}
