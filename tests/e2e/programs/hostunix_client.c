/* An AF_UNIX client of a server the test runs on the host (tests/e2e/test_host_unix_connect.py).
 *   hostunix_client PATH stream|seqpacket|dgram|async MSG
 * connect to PATH (print the errno's name and stop if that fails), then: stream: send MSG, shut
 * down the sending side, wait with poll, print the reply up to EOF; seqpacket: send MSG as one
 * message, print the one reply message; dgram: send MSG, print the count; async: a stream with
 * O_ASYNC set before the connect: send MSG, then print the SIGIOs counted 300 ms and 600 ms
 * later (the server answers twice, 350 ms apart, and nothing is read in between). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *err_name(int e) {
    switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOENT: return "ENOENT";
    case EPROTOTYPE: return "EPROTOTYPE";
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    default: return "other";
    }
}

static volatile sig_atomic_t sigios;

static void on_io(int sig) {
    (void)sig;
    sigios++;
}

static void pause_ms(long ms) {
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) < 0 && errno == EINTR) {
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: hostunix_client PATH stream|seqpacket|dgram MSG\n");
        return 2;
    }
    int type = strcmp(argv[2], "seqpacket") == 0 ? SOCK_SEQPACKET
             : strcmp(argv[2], "dgram") == 0     ? SOCK_DGRAM
                                                 : SOCK_STREAM;
    int s = socket(AF_UNIX, type, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    if (s < 0) {
        perror("socket");
        return 1;
    }
    int async = strcmp(argv[2], "async") == 0;
    if (async) {
        signal(SIGIO, on_io);
        if (fcntl(s, F_SETOWN, getpid()) < 0 || fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_ASYNC) < 0) {
            perror("fcntl");
            return 1;
        }
    }
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        printf("connect: %s\n", err_name(errno));
        return 0;
    }
    int got_type = 0;
    socklen_t tlen = sizeof got_type;
    getsockopt(s, SOL_SOCKET, SO_TYPE, &got_type, &tlen);
    printf("connected type=%s\n", got_type == type ? "same" : "other");
    size_t len = strlen(argv[3]);
    ssize_t sent = send(s, argv[3], len, 0);
    if (sent != (ssize_t)len) {
        printf("send: %s\n", err_name(errno));
        return 1;
    }
    if (async) {
        pause_ms(300);
        printf("sigio after the first answer: %d\n", (int)sigios);
        pause_ms(300);
        printf("sigio after the second answer: %d\n", (int)sigios);
    }
    if (type == SOCK_DGRAM) {
        printf("sent %zd\n", sent);
        return close(s) == 0 ? 0 : 1;
    }
    if (type == SOCK_STREAM) shutdown(s, SHUT_WR);
    struct pollfd p = {s, POLLIN, 0};
    int ready = poll(&p, 1, 10000);
    printf("poll=%d in=%d\n", ready, (p.revents & POLLIN) != 0);
    char buf[512];
    size_t total = 0;
    ssize_t n;
    while ((n = read(s, buf + total, sizeof buf - 1 - total)) > 0) {
        total += (size_t)n;
        if (type == SOCK_SEQPACKET) break;
    }
    buf[total] = 0;
    printf("got: %s\n", buf);
    n = read(s, buf, sizeof buf);
    printf("then: %zd\n", n);
    return close(s) == 0 ? 0 : 1;
}
