/* A TCP echo server in a cage; a forked child is the client: 1,000 messages, every byte checked.
 * With an argument PORT (or 0), serve host clients instead: print "port N", echo each connection
 * until EOF, stop after the number of connections given as the second argument (default 1). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int echo(int c) {
    char buf[65536];
    long total = 0;
    for (;;) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n < 0) { perror("recv"); return -1; }
        if (n == 0) break;
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = send(c, buf + off, n - off, 0);
            if (w < 0) { perror("send"); return -1; }
            off += w;
        }
        total += n;
    }
    return (int)(total & 0x7fffffff);
}

static int listener(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); exit(1); }
    if (listen(s, 16) < 0) { perror("listen"); exit(1); }
    return s;
}

static int readn(int fd, char *p, int n) {
    int got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r <= 0) return -1;
        got += r;
    }
    return got;
}

static int client(int port) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static char out[8192], in[8192];
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        int len = 1 + (i * 37) % 8000;
        for (int k = 0; k < len; k++) out[k] = (char)(i * 7 + k * 13);
        if (write(c, out, len) != len) { perror("write"); return 1; }
        if (readn(c, in, len) != len) { printf("short read at %d\n", i); return 1; }
        if (memcmp(in, out, len) != 0) bad++;
    }
    printf("client: 1000 messages, %d mismatches\n", bad);
    fflush(stdout); /* before the server sees EOF and prints */
    close(c);
    return bad != 0;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        int s = listener(atoi(argv[1]));
        int conns = argc > 2 ? atoi(argv[2]) : 1;
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        getsockname(s, (struct sockaddr *)&a, &len);
        printf("port %d\n", ntohs(a.sin_port));
        fflush(stdout);
        for (int i = 0; i < conns; i++) {
            int c = accept(s, NULL, NULL);
            if (c < 0) { perror("accept"); return 1; }
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            echo(c);
            close(c);
        }
        printf("served %d\n", conns);
        return 0;
    }
    int s = listener(0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    int port = ntohs(a.sin_port);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(s);
        int r = client(port);
        fflush(stdout);
        _exit(r);
    }
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int c = accept(s, (struct sockaddr *)&peer, &plen);
    if (c < 0) { perror("accept"); return 1; }
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int total = echo(c);
    int status;
    waitpid(pid, &status, 0); /* print only once the client has printed */
    printf("accepted: family %d, loopback %d, len %d\n", peer.sin_family,
           peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK), (int)plen);
    printf("server echoed %d bytes\n", total);
    printf("client exit %d\n", WEXITSTATUS(status));
    close(c);
    close(s);
    return 0;
}
