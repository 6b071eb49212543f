#include <stdatomic.h>
#include <stdalign.h>
#include <stdnoreturn.h>
#include <stdint.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#if !__has_include(<stdatomic.h>)
#error no stdatomic
#endif
#ifdef __STDC_NO_ATOMICS__
#error no atomics
#endif
#define THREADS 4
#define ROUNDS 20000
static atomic_int counter;
static _Atomic long long wide;
static atomic_flag flag = ATOMIC_FLAG_INIT;
static alignas(64) char aligned[3];
static void *work(void *arg) {
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
        atomic_fetch_add(&wide, 3);
    }
    return NULL;
}
static noreturn void finish(int code) { exit(code); }
int main(void) {
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    static atomic_int cell = 7; int expected = 7;
    int swapped = atomic_compare_exchange_strong(&cell, &expected, 8) * 10 + atomic_load(&cell);
    printf("counter=%d wide=%lld lockfree=%d flag=%d,%d align=%zu mod=%d cas=%d\n",
           atomic_load(&counter), (long long)atomic_load(&wide), (int)atomic_is_lock_free(&wide),
           (int)atomic_flag_test_and_set(&flag), (int)atomic_flag_test_and_set(&flag),
           alignof(max_align_t), (int)((uintptr_t)aligned % 64), swapped);
    atomic_thread_fence(memory_order_seq_cst);
    printf("INT_MAX=%d SIZE_MAX=%llu INT64_MAX=%lld\n", INT_MAX, (unsigned long long)SIZE_MAX, (long long)INT64_MAX);
    finish(0);
}
