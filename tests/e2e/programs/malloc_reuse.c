/* large chunks freed and allocated again (lind-musl keeps freed mmapped chunks for reuse and moves
 * the break ahead of the heap): calloc still returns zeros, realloc keeps content when it grows
 * or shrinks a chunk, in one thread and then in four at once, and the heap grows by many small
 * allocations whose content survives */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t checksum(const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 131 + seed);
}

static int filled(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 131 + seed)) return 0;
    return 1;
}

static size_t nonzero(const unsigned char *p, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += p[i] != 0;
    return bad;
}

/* One round of large-chunk churn; returns the number of failed checks. */
static unsigned churn(unsigned seed) {
    static const size_t sizes[] = {120u << 10, 200u << 10, 300u << 10, 777u << 10,
                                   1u << 20, 3u << 20, 5u << 20};
    enum { K = sizeof sizes / sizeof sizes[0] };
    unsigned bad = 0;
    unsigned char *p[K];
    for (int i = 0; i < K; i++) {
        p[i] = malloc(sizes[i]);
        if (!p[i]) return 1000;
        fill(p[i], sizes[i], seed + i);
    }
    for (int i = 0; i < K; i++) {
        bad += !filled(p[i], sizes[i], seed + i);
        free(p[i]);
    }
    for (int i = K - 1; i >= 0; i--) {  /* the same sizes and smaller ones, zeroed */
        size_t n = sizes[i] - (size_t)(seed % 3) * 4096;
        unsigned char *z = calloc(1, n);
        if (!z) return 1000;
        bad += nonzero(z, n) != 0;
        fill(z, n, seed);
        free(z);
    }
    /* a growing array, as an interpreter's table: realloc doubles it, content kept */
    size_t n = 64u << 10;
    unsigned char *a = malloc(n);
    if (!a) return 1000;
    fill(a, n, seed);
    while (n < (4u << 20)) {
        unsigned char *b = realloc(a, 2 * n);
        if (!b) return 1000;
        a = b;
        bad += !filled(a, n, seed);
        n *= 2;
        fill(a, n, seed);
    }
    while (n > (16u << 10)) {  /* and shrinks */
        n /= 3;
        unsigned char *b = realloc(a, n);
        if (!b) return 1000;
        a = b;
        bad += !filled(a, n, seed);
    }
    free(a);
    return bad;
}

static void *worker(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg, bad = 0;
    for (int r = 0; r < 6; r++) bad += churn(seed * 7 + r);
    return (void *)(uintptr_t)bad;
}

int main(void) {
    unsigned bad = 0;
    for (int r = 0; r < 8; r++) bad += churn(r);
    printf("one thread: %u bad\n", bad);

    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1))) return 1;
    bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (unsigned)(uintptr_t)r;
    }
    printf("four threads: %u bad\n", bad);

    /* the heap grows by 40,000 small allocations (about 12 MiB), all kept, then checked */
    enum { N = 40000 };
    static unsigned char *small[N];
    for (int i = 0; i < N; i++) {
        size_t n = 16 + (size_t)(i * 37) % 600;
        small[i] = malloc(n);
        if (!small[i]) return 1;
        fill(small[i], n, (unsigned)i);
    }
    bad = 0;
    uint32_t sum = 0;
    for (int i = 0; i < N; i++) {
        size_t n = 16 + (size_t)(i * 37) % 600;
        bad += !filled(small[i], n, (unsigned)i);
        sum ^= checksum(small[i], n);
        free(small[i]);
    }
    printf("heap: %u bad, %08x\n", bad, sum);
    unsigned char *z = calloc(3u << 20, 1);  /* from freed heap space: zeroed by calloc */
    printf("calloc after the heap: %zu nonzero\n", z ? nonzero(z, 3u << 20) : (size_t)-1);
    free(z);
    return 0;
}
