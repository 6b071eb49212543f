/* Bulk TCP on 127.0.0.1 between a process and its forked child: one blocking send of 4 MiB
 * (more than the socket buffers hold: the kernel takes it in parts while the reader drains),
 * write() and read() on the socket, small sends, a non-blocking sender that runs into a full
 * buffer (every byte it was told went out arrives, no more), a zero-length send, a reset
 * reported by recv once (then end of file), and EPIPE with SIGPIPE ignored. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG (4 << 20)
static unsigned char big[BIG], in[1 << 16];

static int listener(int *port) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0) { perror("bind"); exit(1); }
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return s;
}

static int dial(int port) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
    return c;
}

/* Read until EOF, alternating recv and read; the byte count and a checksum, written to `report`
 * (the parent prints them: the order of lines does not depend on timing). */
static void drain(int fd, int report) {
    uint64_t got[2] = {0, 0};  /* total, checksum */
    for (int i = 0;; i++) {
        ssize_t n = i % 2 ? read(fd, in, sizeof in) : recv(fd, in, sizeof in, 0);
        if (n < 0) { perror("reader"); break; }
        if (n == 0) break;
        for (ssize_t k = 0; k < n; k++) got[1] = got[1] * 31 + in[k];
        got[0] += (uint64_t)n;
    }
    if (write(report, got, sizeof got) != sizeof got) perror("report");
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < BIG; i++) big[i] = (unsigned char)(i * 7 + i / 4099);
    int port, s = listener(&port);

    /* 1: blocking sends and writes, a slow reader */
    int first[2];
    if (pipe(first) < 0) return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(first[0]);
        int c = dial(port);
        usleep(100000);  /* the sender fills the buffers first */
        drain(c, first[1]);
        close(c);
        _exit(0);
    }
    int c = accept(s, NULL, NULL);
    ssize_t n = send(c, big, BIG, 0);
    printf("blocking send of %d: %zd\n", BIG, n);
    n = write(c, big, 1 << 20);
    printf("write of %d: %zd\n", 1 << 20, n);
    long small = 0;
    for (int i = 0; i < 1000; i++) small += send(c, big + i, 1 + i % 100, MSG_NOSIGNAL);
    printf("1000 small sends: %ld\n", small);
    printf("zero-length send: %zd\n", send(c, big, 0, 0));
    close(c);
    close(first[1]);
    uint64_t one[2] = {0, 0};
    if (read(first[0], one, sizeof one) != sizeof one) printf("no report from reader 1\n");
    printf("reader 1: %llu bytes, checksum %llu\n", (unsigned long long)one[0],
           (unsigned long long)one[1]);
    waitpid(pid, NULL, 0);

    /* 2: a non-blocking sender: what it was told went out is what arrives */
    int done[2], back[2];
    if (pipe(done) < 0 || pipe(back) < 0) return 1;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(done[1]);
        close(back[0]);
        int c = dial(port);
        char go;
        if (read(done[0], &go, 1) != 1) _exit(1);
        drain(c, back[1]);
        close(c);
        _exit(0);
    }
    close(done[0]);
    c = accept(s, NULL, NULL);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    long sent = 0;
    int again = 0, partial = 0;
    for (int i = 0; i < 64 && !again; i++) {
        n = send(c, big, BIG, 0);
        if (n < 0) {
            if (errno == EAGAIN) again = 1;
            else { printf("send: %s\n", strerror(errno)); break; }
        } else {
            if (n < BIG) partial = 1;
            sent += n;
        }
    }
    printf("non-blocking sender: EAGAIN %d, a partial send %d\n", again, partial);
    n = recv(c, in, sizeof in, 0);
    printf("non-blocking recv with nothing there: %zd %s\n", n, n < 0 ? strerror(errno) : "");
    if (write(done[1], "g", 1) != 1) return 1;
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
    close(c);
    waitpid(pid, NULL, 0);
    uint64_t sum = 0;
    for (long k = 0; k < sent; k++) sum = sum * 31 + big[k % BIG];
    uint64_t got[2] = {0, 0};
    close(back[1]);
    if (read(back[0], got, sizeof got) != sizeof got) printf("no report from reader 2\n");
    printf("reader 2: every byte sent arrived: %s\n",
           got[0] == (uint64_t)sent && got[1] == sum ? "yes" : "NO");

    /* 3: a reset peer (SO_LINGER 0), seen once by recv, then end of file; EPIPE on send */
    int accepted[2];
    if (pipe(accepted) < 0) return 1;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(accepted[1]);
        int c = dial(port);
        struct linger l = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        char go;
        if (read(accepted[0], &go, 1) != 1) _exit(1);  /* reset only an accepted connection */
        if (write(c, "x", 1) != 1) _exit(1);
        usleep(50000);
        close(c);
        _exit(0);
    }
    close(accepted[0]);
    c = accept(s, NULL, NULL);
    if (write(accepted[1], "g", 1) != 1) return 1;
    waitpid(pid, NULL, 0);
    usleep(50000);
    n = recv(c, in, sizeof in, 0);
    printf("recv after reset: %zd\n", n);
    n = recv(c, in, sizeof in, 0);
    printf("recv again: %zd %s\n", n, n < 0 ? strerror(errno) : "");
    n = recv(c, in, sizeof in, 0);
    printf("recv again: %zd %s\n", n, n < 0 ? strerror(errno) : "");
    n = send(c, "y", 1, 0);
    printf("send after reset: %zd %s\n", n, n < 0 ? strerror(errno) : "");
    close(c);
    close(s);
    return 0;
}
