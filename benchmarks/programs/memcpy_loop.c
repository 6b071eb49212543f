/* libc's memory and string routines: `memcpy_loop N` runs N rounds of memcpy, memmove, memset and
 * strlen over sizes from 7 bytes to 16 KiB (read from a table at run time, so the compiler cannot
 * specialise a call for its size) and prints "<checksum> <CPU ns>". Builds natively, as a cage
 * and for plain WASI (zig cc -target wasm32-wasi), so all three run the same code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AREA (64 << 10)

static double now_ns(void) {
    struct timespec t;
#ifdef CLOCK_PROCESS_CPUTIME_ID
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* CPU time: steadier on a shared machine */
#else
    clock_gettime(CLOCK_MONOTONIC, &t); /* WASI has none: bench_compute measures CPU itself */
#endif
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static const size_t sizes[] = {7, 16, 33, 64, 100, 256, 1000, 4096, 16384, 24};
#define NSIZES (sizeof sizes / sizeof sizes[0])

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    unsigned char *src = malloc(AREA), *dst = malloc(AREA);
    char *text = malloc(AREA);
    if (!src || !dst || !text) return 1;
    for (size_t i = 0; i < AREA; i++) {
        src[i] = (unsigned char)(i * 131 + 7);
        text[i] = (char)('a' + i % 26);
    }
    /* strings of every table length, each ended by a NUL */
    size_t ends[NSIZES];
    size_t at = 0;
    for (size_t k = 0; k < NSIZES; k++) {
        text[at + sizes[k]] = 0;
        ends[k] = at;
        at += sizes[k] + 1;
    }
    uint64_t sum = 0;
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        size_t k = (size_t)i % NSIZES, len = sizes[k];
        size_t off = ((size_t)i * 64) % (AREA - 2 * 16384);
        memcpy(dst + off, src + (off ^ 40), len);
        memmove(dst + off + 3, dst + off, len);
        memset(dst + (off ^ 1024), (int)(i & 0xff), len);
        sum += strlen(text + ends[k]);
        sum = sum * 31 + dst[off + len / 2] + dst[(off ^ 1024) + len - 1];
    }
    double elapsed = now_ns() - start;
    printf("%llu %.0f\n", (unsigned long long)sum, elapsed);
    free(src);
    free(dst);
    free(text);
    return 0;
}
