/* malloc/realloc/free from several threads at once, then from the main thread alone again
 * (lind-musl's allocator updates its bin map atomically only while threads exist): every block
 * is filled with its owner's pattern and checked before it is freed or grown, so a chunk handed
 * out twice or lost from a bin shows as a wrong count. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, SLOTS = 256, ROUNDS = 20000 };

static unsigned next(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static int check(const unsigned char *p, size_t n, unsigned char v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return 0;
    return 1;
}

static long churn(unsigned seed, int rounds) {
    unsigned char *slot[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    long bad = 0;
    unsigned char mark = (unsigned char)(seed * 37 + 1);
    for (int r = 0; r < rounds; r++) {
        unsigned k = next(&seed) % SLOTS;
        size_t n = 1 + next(&seed) % (next(&seed) % 8 == 0 ? 5000 : 120);
        if (slot[k]) {
            bad += !check(slot[k], size[k], mark);
            if (next(&seed) % 3 == 0) {
                unsigned char *p = realloc(slot[k], n);
                if (!p) return -1;
                bad += !check(p, n < size[k] ? n : size[k], mark);
                memset(p, mark, n);
                slot[k] = p;
                size[k] = n;
                continue;
            }
            free(slot[k]);
            slot[k] = NULL;
        } else {
            slot[k] = malloc(n);
            if (!slot[k]) return -1;
            memset(slot[k], mark, n);
            size[k] = n;
        }
    }
    for (int k = 0; k < SLOTS; k++) {
        if (slot[k]) bad += !check(slot[k], size[k], mark);
        free(slot[k]);
    }
    return bad;
}

static void *worker(void *arg) {
    return (void *)churn((unsigned)(long)arg, ROUNDS);
}

int main(void) {
    printf("alone before: %ld bad\n", churn(99, ROUNDS));
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    long mine = churn(7, ROUNDS);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        printf("thread %d: %ld bad\n", i, (long)r);
    }
    printf("main with threads: %ld bad\n", mine);
    printf("alone after: %ld bad\n", churn(123, ROUNDS));
    return 0;
}
