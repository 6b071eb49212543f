/* a compute-bound loop with no system calls until the end; writes its result to a file */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    unsigned long long x = 1, iters = 0;
    do {
        for (int i = 0; i < 10000000; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        iters++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
    FILE *f = fopen("spin-result.txt", "w");
    fprintf(f, "%llu %llu\n", iters, x);
    fclose(f);
    return 0;
}
