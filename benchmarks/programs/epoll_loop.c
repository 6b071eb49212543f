/* epoll_wait rounds over many idle descriptors and a few active ones:
 * `epoll_loop pipe|socketpair ROUNDS IDLE ACTIVE` prints "round_us wait_us raw_wait_us".
 * A round writes one byte to every active descriptor, epoll_waits and reads each reported one.
 * round_us: the mean round, the loop timed as a whole (no clock read inside it).
 * wait_us: a second run of the rounds timing each epoll_wait with two clock reads, and just
 * before it an empty timed section whose time is subtracted (the clock reads cost ~20 ns natively
 * but a system call each in a cage); the median round. A mean of a short run would also charge
 * one-off pauses (a scheduler's preemption, one full garbage collection) to whichever call they
 * hit. raw_wait_us: the plain mean of the timed epoll_waits, clock reads included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int ep, idle, active, total, *rd, *wr;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One round; with `net` and `raw`, time each epoll_wait (less an empty timed section). */
static int round_trip(double *net, double *raw) {
    struct epoll_event out[64];
    char buf[16];
    for (int i = idle; i < total; i++) write(wr[i], "x", 1);
    int got = 0;
    while (got < active) {
        int n;
        if (net) {
            double e = now_us();
            e = now_us() - e;
            double t = now_us();
            n = epoll_wait(ep, out, 64, -1);
            double spent = now_us() - t;
            *net += spent - e;
            *raw += spent;
        } else {
            n = epoll_wait(ep, out, 64, -1);
        }
        if (n < 0) { perror("epoll_wait"); return -1; }
        for (int k = 0; k < n; k++) read(rd[out[k].data.u32], buf, sizeof buf);
        got += n;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s pipe|socketpair ROUNDS IDLE ACTIVE\n", argv[0]); return 2; }
    int sockets = strcmp(argv[1], "socketpair") == 0;
    long rounds = atol(argv[2]);
    if (rounds < 1 || rounds > 10000000) { fprintf(stderr, "ROUNDS: 1 to 10000000\n"); return 2; }
    idle = atoi(argv[3]), active = atoi(argv[4]), total = idle + active;
    struct rlimit rl = {4096, 4096};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) { perror("setrlimit"); return 1; }
    rd = calloc(total, sizeof(int)), wr = calloc(total, sizeof(int));
    ep = epoll_create1(0);
    for (int i = 0; i < total; i++) {
        int fds[2];
        int r = sockets ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds);
        if (r != 0) { perror("pipe/socketpair"); return 1; }
        rd[i] = fds[0];
        wr[i] = fds[1];
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, rd[i], &ev) != 0) { perror("epoll_ctl"); return 1; }
    }
    double start = now_us();
    for (long round = 0; round < rounds; round++)
        if (round_trip(NULL, NULL)) return 1;
    double elapsed = now_us() - start;
    double *net = calloc(rounds, sizeof(double)), raw = 0;
    for (long round = 0; round < rounds; round++)
        if (round_trip(&net[round], &raw)) return 1;
    qsort(net, rounds, sizeof(double), by_value);
    printf("%.2f %.2f %.2f\n", elapsed / rounds, net[rounds / 2], raw / rounds);
    return 0;
}
