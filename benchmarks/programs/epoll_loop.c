/* epoll_wait rounds over many idle descriptors and a few active ones:
 * `epoll_loop pipe|socketpair ROUNDS IDLE ACTIVE` prints "round_us wait_us raw_wait_us": the mean
 * time of a round (one byte written to every active descriptor, epoll_wait, each reported one
 * read); the median time of a round's epoll_wait calls less the cost of the two clock reads
 * around each (measured on as many empty timed sections first: ~20 ns natively, a system call
 * in a cage); and the plain mean of a round's epoll_wait calls, clock reads included. The median
 * leaves out one-off pauses (a scheduler's, a garbage collection's) that a mean of a short run
 * charges to whichever call they hit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s pipe|socketpair ROUNDS IDLE ACTIVE\n", argv[0]); return 2; }
    int sockets = strcmp(argv[1], "socketpair") == 0;
    long rounds = atol(argv[2]);
    int idle = atoi(argv[3]), active = atoi(argv[4]), total = idle + active;
    struct rlimit rl = {4096, 4096};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) { perror("setrlimit"); return 1; }
    int *rd = calloc(total, sizeof(int)), *wr = calloc(total, sizeof(int));
    int ep = epoll_create1(0);
    for (int i = 0; i < total; i++) {
        int fds[2];
        int r = sockets ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds);
        if (r != 0) { perror("pipe/socketpair"); return 1; }
        rd[i] = fds[0];
        wr[i] = fds[1];
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, rd[i], &ev) != 0) { perror("epoll_ctl"); return 1; }
    }
    struct epoll_event out[64];
    char buf[16];
    double timer = 0;  /* the clock reads' own cost per timed section */
    for (long round = 0; round < rounds; round++) {
        double t = now_us();
        timer += now_us() - t;
    }
    timer /= rounds;
    double *per_round = calloc(rounds, sizeof(double));
    double waiting = 0, start = now_us();
    for (long round = 0; round < rounds; round++) {
        for (int i = idle; i < total; i++) write(wr[i], "x", 1);
        int got = 0;
        while (got < active) {
            double t = now_us();
            int n = epoll_wait(ep, out, 64, -1);
            double spent = now_us() - t;
            waiting += spent;
            per_round[round] += spent - timer;
            if (n < 0) { perror("epoll_wait"); return 1; }
            for (int k = 0; k < n; k++) read(rd[out[k].data.u32], buf, sizeof buf);
            got += n;
        }
    }
    double elapsed = now_us() - start;
    qsort(per_round, rounds, sizeof(double), by_value);
    printf("%.2f %.2f %.2f\n", elapsed / rounds, per_round[rounds / 2], waiting / rounds);
    return 0;
}
