/* AF_UNIX flow control: how much a non-blocking sender puts into a socketpair before EAGAIN,
 * by type, write size and SO_SNDBUF/SO_RCVBUF; the largest datagram; the datagram queue length;
 * and that the reader drains exactly what was accepted. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 20];

static void show_opt(const char *what, int fd, int name) {
    int v = -1; socklen_t len = sizeof v;
    int r = getsockopt(fd, SOL_SOCKET, name, &v, &len);
    printf("  %-26s %d (r %d len %d)\n", what, v, r, (int)len);
}

/* Fill sv[0] -> sv[1] with `chunk`-byte sends until EAGAIN; returns (bytes, sends). */
static long fill(int fd, int chunk, long *sends) {
    long total = 0;
    *sends = 0;
    for (;;) {
        ssize_t n = send(fd, buf, chunk, MSG_DONTWAIT);
        if (n < 0) {
            if (errno != EAGAIN) printf("  unexpected errno %d\n", errno);
            break;
        }
        total += n;
        (*sends)++;
        if (*sends > 100000) break;
    }
    return total;
}

static long drain(int fd) {
    long total = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) break;
        if (n == 0) { if (total == 0) continue; }
        total += n;
    }
    return total;
}

static void run(int type, int chunk, int sndbuf, int rcvbuf) {
    int sv[2];
    socketpair(AF_UNIX, type, 0, sv);
    if (sndbuf) setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (rcvbuf) setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    long sends;
    long total = fill(sv[0], chunk, &sends);
    struct pollfd p = {sv[0], POLLOUT, 0};
    poll(&p, 1, 0);
    long got = drain(sv[1]);
    printf("%s chunk %d sndbuf %d rcvbuf %d: sent %ld in %ld, pollout %d, drained %ld\n",
           type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "dgram" : "seqpacket", chunk,
           sndbuf, rcvbuf, total, sends, !!(p.revents & POLLOUT), got);
    close(sv[0]);
    close(sv[1]);
}

static void max_datagram(int type) {
    int sv[2];
    socketpair(AF_UNIX, type, 0, sv);
    int lo = 0, hi = sizeof buf;
    while (lo < hi) { /* the largest size a send accepts into an empty queue */
        int mid = (lo + hi + 1) / 2;
        ssize_t n = send(sv[0], buf, mid, MSG_DONTWAIT);
        if (n == mid) { lo = mid; recv(sv[1], buf, sizeof buf, 0); }
        else hi = mid - 1;
    }
    ssize_t n = send(sv[0], buf, lo + 1, MSG_DONTWAIT);
    printf("max %s datagram %d; one more: %zd %s\n", type == SOCK_DGRAM ? "dgram" : "seqpacket",
           lo, n, n < 0 && errno == EMSGSIZE ? "EMSGSIZE" : "?");
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    printf("defaults\n");
    show_opt("SO_SNDBUF", sv[0], SO_SNDBUF);
    show_opt("SO_RCVBUF", sv[0], SO_RCVBUF);
    int v = 1000;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    show_opt("SO_SNDBUF after 1000", sv[0], SO_SNDBUF);
    v = 100000;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    show_opt("SO_SNDBUF after 100000", sv[0], SO_SNDBUF);
    v = 0;
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    show_opt("SO_RCVBUF after 0", sv[0], SO_RCVBUF);
    v = 1 << 30;
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    show_opt("SO_RCVBUF after 1<<30", sv[0], SO_RCVBUF);
    v = -5;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    show_opt("SO_SNDBUF after -5", sv[0], SO_SNDBUF);
    close(sv[0]);
    close(sv[1]);

    int chunks[] = {1, 100, 4096, 65536, 1 << 20};
    for (int i = 0; i < 5; i++) run(SOCK_STREAM, chunks[i], 0, 0);
    run(SOCK_STREAM, 4096, 4096, 0);
    run(SOCK_STREAM, 4096, 32768, 0);
    run(SOCK_STREAM, 1 << 20, 500000, 0);
    run(SOCK_STREAM, 4096, 0, 4096);
    for (int i = 0; i < 4; i++) run(SOCK_DGRAM, chunks[i], 0, 0);
    run(SOCK_DGRAM, 1, 4096, 0);
    run(SOCK_DGRAM, 100, 0, 4096);
    for (int i = 0; i < 4; i++) run(SOCK_SEQPACKET, chunks[i], 0, 0);
    max_datagram(SOCK_DGRAM);
    max_datagram(SOCK_SEQPACKET);
    return 0;
}
