/* qsort through a comparator (an indirect call), bsearch */
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(void) {
    enum { N = 100000 };
    int *v = malloc(N * sizeof *v);
    unsigned s = 12345;
    for (int i = 0; i < N; i++) { s = s * 1103515245u + 12345u; v[i] = (int)(s >> 8) - (1 << 22); }
    qsort(v, N, sizeof *v, cmp);
    long long acc = 0;
    for (int i = 1; i < N; i++) {
        if (v[i - 1] > v[i]) { printf("unsorted at %d\n", i); return 1; }
        acc += (long long)v[i] * (i % 7);
    }
    printf("min=%d max=%d acc=%lld\n", v[0], v[N - 1], acc);
    int key = v[N / 3];
    int *hit = bsearch(&key, v, N, sizeof *v, cmp);
    printf("found=%d\n", hit && *hit == key);
    free(v);
    return 0;
}
