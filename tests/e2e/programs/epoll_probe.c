/* Level-triggered input entries that stay on epoll's ready list while their descriptor changes
 * under them: a pipe's read end (FIFO included) and AF_UNIX stream sockets, reported, then
 * drained, refilled, hung up, shut down, reset, modified, dup'd and closed between waits. The
 * cage answers such entries without asking poll_mask while they look plainly readable
 * (rawposix/epoll.py's probes); every other state must be reported exactly as Linux does. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int by_data(const void *a, const void *b) {
    unsigned x = ((const struct epoll_event *)a)->data.u32;
    unsigned y = ((const struct epoll_event *)b)->data.u32;
    return (x > y) - (x < y);
}

/* the events in data order (the order two entries became ready is not the point here) */
static void show(const char *what, int ep) {
    struct epoll_event ev[16];
    memset(ev, 0, sizeof ev);
    int n = epoll_wait(ep, ev, 16, 0);
    if (n > 1) qsort(ev, n, sizeof ev[0], by_data);
    printf("%s: %d", what, n);
    if (n < 0) printf(" errno=%d", errno);
    for (int i = 0; i < n; i++) printf(" %u:0x%x", ev[i].data.u32, ev[i].events);
    printf("\n");
}

static void ctl(int ep, int op, int fd, unsigned events, unsigned data) {
    struct epoll_event ev = {.events = events, .data.u32 = data};
    if (epoll_ctl(ep, op, fd, &ev) != 0) printf("ctl %d %u: errno=%d\n", op, data, errno);
}

static void pipes(void) {
    char buf[64];
    int p[2], ep = epoll_create1(0);
    pipe(p);
    ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLRDHUP, 1);
    show("pipe empty", ep);
    write(p[1], "ab", 2);
    show("pipe data", ep);
    show("pipe data again", ep);
    read(p[0], buf, 1);
    show("pipe one byte left", ep);
    read(p[0], buf, 1);
    show("pipe drained", ep);
    write(p[1], "c", 1);
    show("pipe refilled", ep);
    ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 2);
    show("pipe new data word", ep);
    ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLOUT, 3);
    show("pipe asked for output too", ep);
    ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 4);
    show("pipe input only again", ep);
    close(p[1]);
    show("pipe writer closed, data left", ep);
    show("pipe writer closed, again", ep);
    read(p[0], buf, 1);
    show("pipe writer closed, drained", ep);
    close(p[0]);
    show("pipe reader closed", ep);
    close(ep);

    /* a dup keeps the description (and its entry) after the registered fd closes */
    ep = epoll_create1(0);
    pipe(p);
    int copy = dup(p[0]);
    ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 5);
    write(p[1], "d", 1);
    show("dup: data", ep);
    close(p[0]);
    show("dup: registered fd closed", ep);
    read(copy, buf, 1);
    show("dup: drained", ep);
    write(p[1], "e", 1);
    show("dup: refilled", ep);
    close(copy);
    show("dup: last fd closed", ep);
    close(p[1]);
    close(ep);
}

static void fifo(void) {
    char buf[8];
    unlink("probe.fifo");
    if (mkfifo("probe.fifo", 0600) != 0) { printf("mkfifo errno=%d\n", errno); return; }
    int r = open("probe.fifo", O_RDONLY | O_NONBLOCK);
    int w = open("probe.fifo", O_WRONLY);
    int ep = epoll_create1(0);
    ctl(ep, EPOLL_CTL_ADD, r, EPOLLIN, 6);
    write(w, "f", 1);
    show("fifo data", ep);
    show("fifo data again", ep);
    close(w);
    show("fifo writer closed", ep);
    read(r, buf, 1);
    show("fifo drained", ep);
    close(r);
    close(ep);
    unlink("probe.fifo");
}

static void stream_pair(void) {
    char buf[64];
    int s[2], ep = epoll_create1(0);
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    int s0copy = dup(s[0]);
    ctl(ep, EPOLL_CTL_ADD, s[0], EPOLLIN, 10);
    ctl(ep, EPOLL_CTL_ADD, s0copy, EPOLLIN | EPOLLRDHUP, 11);
    show("pair empty", ep);
    send(s[1], "ab", 2, 0);
    show("pair data", ep);
    recv(s[0], buf, 1, MSG_PEEK);
    show("pair peeked", ep);
    recv(s[0], buf, 2, 0);
    show("pair drained", ep);
    send(s[1], "c", 1, 0);
    show("pair refilled", ep);
    int err = -1;
    socklen_t len = sizeof err;
    getsockopt(s[0], SOL_SOCKET, SO_ERROR, &err, &len);
    printf("pair SO_ERROR %d\n", err);
    show("pair after SO_ERROR", ep);
    shutdown(s[1], SHUT_WR);
    show("pair peer shut for writing", ep);
    recv(s[0], buf, 1, 0);
    show("pair drained after peer shutdown", ep);
    close(s[1]);
    show("pair peer closed", ep);
    close(s[0]);
    close(s0copy);
    close(ep);

    /* this end shuts for reading with data queued */
    ep = epoll_create1(0);
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    ctl(ep, EPOLL_CTL_ADD, s[0], EPOLLIN | EPOLLRDHUP, 12);
    send(s[1], "x", 1, 0);
    show("shut_rd: data", ep);
    shutdown(s[0], SHUT_RD);
    show("shut_rd: shut", ep);
    close(s[0]);
    close(s[1]);
    close(ep);

    /* the peer closes with data of its own unread: a reset, then SO_ERROR clears it */
    ep = epoll_create1(0);
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    ctl(ep, EPOLL_CTL_ADD, s[0], EPOLLIN, 13);
    send(s[1], "y", 1, 0);
    send(s[0], "z", 1, 0);
    show("reset: data", ep);
    close(s[1]);
    show("reset: peer closed unread", ep);
    err = -1;
    getsockopt(s[0], SOL_SOCKET, SO_ERROR, &err, &len);
    printf("reset: SO_ERROR %d\n", err);
    show("reset: error taken", ep);
    ssize_t n = recv(s[0], buf, sizeof buf, 0);
    printf("reset: recv %zd\n", n);
    show("reset: after recv", ep);
    close(s[0]);
    close(ep);
}

static void connected(void) {
    char buf[8];
    struct sockaddr_un name = {.sun_family = AF_UNIX};
    strcpy(name.sun_path + 1, "lind-epoll-probe");  /* abstract */
    socklen_t size = offsetof(struct sockaddr_un, sun_path) + 1 + strlen("lind-epoll-probe");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(l, (struct sockaddr *)&name, size) != 0 || listen(l, 4) != 0) {
        printf("listen errno=%d\n", errno);
        return;
    }
    int ep = epoll_create1(0);
    ctl(ep, EPOLL_CTL_ADD, l, EPOLLIN, 20);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN, 21);
    show("conn: none yet", ep);
    connect(c, (struct sockaddr *)&name, size);
    show("conn: pending", ep);
    int a = accept(l, NULL, NULL);
    ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN, 22);
    show("conn: accepted", ep);
    send(c, "p", 1, 0);
    send(a, "q", 1, 0);
    show("conn: both ways", ep);
    show("conn: both ways again", ep);
    recv(a, buf, 1, 0);
    show("conn: server read", ep);
    shutdown(a, SHUT_RDWR);
    show("conn: server shut both", ep);
    recv(c, buf, 1, 0);
    show("conn: client read", ep);
    close(a);
    close(c);
    close(l);
    close(ep);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pipes();
    fifo();
    stream_pair();
    connected();
    return 0;
}
