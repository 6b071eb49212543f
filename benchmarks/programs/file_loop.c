/* File benchmarks: file_loop read BLOCK MB  -> prints MB/s reading a file of MB MiB sequentially in
 * BLOCK-byte read() calls (the file is created first and read once to warm the page cache);
 * file_loop open N -> prints ns per open+close of an existing file. Runs in the cwd.
 * Each figure is the best of ROUNDS timed rounds (the whole file read again; N pairs again): on a
 * shared machine a single round's wall clock is often mostly other processes' time, and the
 * best round is the one they left alone, natively and in a cage alike. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void make_file(const char *name, long bytes) {
    static char chunk[1 << 16];
    memset(chunk, 'x', sizeof chunk);
    int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    for (long done = 0; done < bytes; done += sizeof chunk) write(fd, chunk, sizeof chunk);
    close(fd);
}

static long read_all(const char *name, char *buf, size_t block) {
    int fd = open(name, O_RDONLY);
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buf, block)) > 0) total += n;
    close(fd);
    return total;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (strcmp(argv[1], "read") == 0) {
        size_t block = (size_t)atol(argv[2]);
        long mib = argc > 3 ? atol(argv[3]) : 64;
        make_file("bench.dat", mib << 20);
        char *buf = malloc(block);
        read_all("bench.dat", buf, block); /* warm the page cache */
        double best = 0;
        for (int round = 0; round < ROUNDS; round++) {
            double t0 = now();
            long total = read_all("bench.dat", buf, block);
            double rate = total / (now() - t0) / 1e6;
            if (rate > best) best = rate;
        }
        unlink("bench.dat");
        printf("%.1f\n", best);
        return 0;
    }
    if (strcmp(argv[1], "open") == 0) {
        long n = atol(argv[2]);
        make_file("bench.open", 0);
        double best = 0;
        for (int round = 0; round < ROUNDS; round++) {
            double t0 = now();
            for (long i = 0; i < n; i++) close(open("bench.open", O_RDONLY));
            double dt = now() - t0;
            if (round == 0 || dt < best) best = dt;
        }
        unlink("bench.open");
        printf("%.0f\n", best / n * 1e9);
        return 0;
    }
    return 2;
}
