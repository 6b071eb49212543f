/* small and large (>= 8 MiB) allocations, realloc, free; content survives */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static uint32_t checksum(const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

int main(void) {
    enum { N = 20000 };
    static char *small[N];
    for (int i = 0; i < N; i++) {
        small[i] = malloc(1 + i % 200);
        memset(small[i], i & 0xff, 1 + i % 200);
    }
    unsigned long sum = 0;
    for (int i = 0; i < N; i += 2) { free(small[i]); small[i] = NULL; }
    for (int i = 1; i < N; i += 2) sum += (unsigned char)small[i][i % 200 / 2];
    printf("small ok %lu\n", sum);

    size_t big = 8u << 20;
    unsigned char *a = malloc(big);
    if (!a) { printf("malloc 8MiB failed\n"); return 1; }
    for (size_t i = 0; i < big; i++) a[i] = (unsigned char)(i * 31 + 7);
    printf("big %08x\n", checksum(a, big));
    unsigned char *b = malloc(16u << 20);
    if (!b) { printf("malloc 16MiB failed\n"); return 1; }
    memcpy(b, a, big);
    memset(b + big, 0xab, 8u << 20);
    printf("bigger %08x\n", checksum(b, 16u << 20));
    free(a);
    b = realloc(b, 24u << 20);
    printf("realloc keeps %08x\n", checksum(b, 16u << 20));
    free(b);
    unsigned char *c = calloc(1u << 20, 4);
    size_t zeros = 0;
    for (size_t i = 0; i < (4u << 20); i++) zeros += c[i] == 0;
    printf("calloc zeros %zu\n", zeros);
    free(c);
    for (int i = 1; i < N; i += 2) free(small[i]);
    printf("done\n");
    return 0;
}
