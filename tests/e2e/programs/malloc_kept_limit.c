/* under a 48 MiB memory limit: three 9 MiB chunks freed (lind-musl keeps such chunks for reuse),
 * then one of 30 MiB, which fits only once the kept ones are given back; then calloc of 9 MiB */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *volatile sink;

int main(void) {
    unsigned char *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = sink = malloc(9u << 20);
        if (!p[i]) { printf("9 MiB #%d: NULL\n", i); return 1; }
        memset(p[i], 1 + i, 9u << 20);
    }
    for (int i = 0; i < 3; i++) free(sink = p[i]);
    unsigned char *q = sink = malloc(30u << 20);
    printf("30 MiB after freeing 27: %s\n", q ? "ok" : "NULL");
    if (q) {
        memset(q, 7, 30u << 20);
        printf("last byte %d\n", q[(30u << 20) - 1]);
    }
    free(q);
    unsigned char *z = sink = calloc(1, 9u << 20);
    size_t nonzero = 0;
    for (size_t i = 0; z && i < (9u << 20); i++) nonzero += z[i] != 0;
    printf("calloc 9 MiB: %s, %zu nonzero\n", z ? "ok" : "NULL", nonzero);
    free(z);
    return 0;
}
