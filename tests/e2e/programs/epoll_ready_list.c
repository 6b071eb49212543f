/* epoll's ready list among many idle descriptors: a level-triggered fd that stays ready is
 * reported on every wait and one that stops being ready (read dry, or a pipe filled up) is not;
 * edge-triggered fires once per new event; maxevents smaller than the ready count rotates
 * (Linux's round robin); closing descriptors (dup'd or not) and fork sharing the instance. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define IDLE 300
#define ACTIVE 6

static int rd[IDLE + ACTIVE], wr[IDLE + ACTIVE];

static int by_data(const void *a, const void *b) {
    unsigned x = ((const struct epoll_event *)a)->data.u32;
    unsigned y = ((const struct epoll_event *)b)->data.u32;
    return (x > y) - (x < y);
}

/* sorted: the events in data order, for a ready list whose order depends on timing */
static void show_as(const char *what, int ep, int max, int timeout, int sorted) {
    struct epoll_event ev[64];
    memset(ev, 0, sizeof ev);
    int n = epoll_wait(ep, ev, max, timeout);
    if (sorted && n > 1) qsort(ev, n, sizeof ev[0], by_data);
    printf("%s: %d", what, n);
    if (n < 0) printf(" errno=%d", errno);
    for (int i = 0; i < n; i++) printf(" %u:0x%x", ev[i].data.u32, ev[i].events);
    printf("\n");
}

static void show(const char *what, int ep, int max, int timeout) {
    show_as(what, ep, max, timeout, 0);
}

static void add(int ep, int fd, unsigned events, unsigned data) {
    struct epoll_event ev = {.events = events, .data.u32 = data};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) printf("add %u: errno=%d\n", data, errno);
}

int main(void) {
    char buf[70000];
    int ep = epoll_create1(0);
    for (int i = 0; i < IDLE + ACTIVE; i++) {
        int fds[2];
        int r = i % 2 ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds);
        if (r != 0) { perror("pipe/socketpair"); return 1; }
        rd[i] = fds[0];
        wr[i] = fds[1];
        add(ep, rd[i], EPOLLIN, i);
    }
    show("all idle", ep, 64, 0);

    /* level-triggered: reported while ready, in the order they became ready */
    for (int i = IDLE + ACTIVE - 1; i >= IDLE; i--) write(wr[i], "ab", 2);
    show("six ready", ep, 64, 0);
    show("still ready", ep, 64, -1);
    read(rd[IDLE + 1], buf, 1);
    show("one read partly", ep, 64, 0);
    read(rd[IDLE + 1], buf, 1);
    read(rd[IDLE + 4], buf, 2);
    show("two drained", ep, 64, 0);
    write(wr[IDLE + 1], "c", 1);
    show("one written again", ep, 64, 0);
    write(wr[3], "i", 1);
    show("an idle one written", ep, 64, 0);
    read(rd[3], buf, 1);

    /* maxevents below the ready count: each wait starts where the last stopped */
    show("max 2", ep, 2, 0);
    show("max 2 again", ep, 2, 0);
    show("max 2 third", ep, 2, 0);
    show("max 4", ep, 4, 0);
    show("all", ep, 64, 0);
    for (int i = IDLE; i < IDLE + ACTIVE; i++) {
        fcntl(rd[i], F_SETFL, fcntl(rd[i], F_GETFL) | O_NONBLOCK);
        while (read(rd[i], buf, sizeof buf) > 0) {}
    }
    show("all drained", ep, 64, 0);

    /* level-triggered output stops when the pipe fills and comes back with room */
    int out = epoll_create1(0);
    int fl = fcntl(wr[0], F_GETFL);
    fcntl(wr[0], F_SETFL, fl | O_NONBLOCK);
    add(out, wr[0], EPOLLOUT, 1000);
    add(out, wr[2], EPOLLOUT, 1002);
    show("writable", out, 64, 0);
    long filled = 0;
    for (;;) {
        ssize_t w = write(wr[0], buf, 4096);
        if (w <= 0) break;
        filled += w;
    }
    printf("filled %ld\n", filled);
    show("one full", out, 64, 0);
    read(rd[0], buf, 100);
    show("a little room (under PIPE_BUF)", out, 64, 0);
    read(rd[0], buf, 8192);
    show("room again", out, 64, 0);
    fcntl(rd[0], F_SETFL, fcntl(rd[0], F_GETFL) | O_NONBLOCK);
    while (read(rd[0], buf, sizeof buf) > 0) {}
    close(out);

    /* edge-triggered among idle ones: once per new event */
    int et = epoll_create1(0);
    for (int i = 0; i < IDLE; i++) add(et, rd[i], EPOLLIN | EPOLLET, i);
    show("et idle", et, 64, 0);
    write(wr[7], "x", 1);
    write(wr[8], "y", 1);
    show("et two", et, 64, 0);
    show("et consumed", et, 64, 0);
    write(wr[7], "z", 1);
    show("et one more (not read)", et, 64, 0);
    show("et consumed again", et, 64, 0);
    read(rd[7], buf, sizeof buf);
    read(rd[8], buf, sizeof buf);
    show("et drained", et, 64, 0);

    /* closing: a dup keeps the entry; the last close removes it, even while it is ready */
    write(wr[10], "k", 1);
    write(wr[12], "l", 1);
    write(wr[14], "m", 1);
    show("three ready", ep, 64, 0);
    int keep = dup(rd[10]);
    close(rd[10]);
    close(rd[12]);
    show("after closes", ep, 64, 0);
    close(keep);
    show("after closing the dup", ep, 64, 0);
    read(rd[14], buf, sizeof buf);
    show("drained", ep, 64, 0);

    /* fork shares the instance: the child's writes wake the parent's wait, and the child
     * closing its copies removes nothing */
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < IDLE + ACTIVE; i++) close(rd[i]);
        usleep(20000);
        write(wr[20], "f", 1);
        write(wr[21], "g", 1);
        _exit(0);
    }
    struct epoll_event ev[8];
    int got = 0;
    while (got < 2) {
        int n = epoll_wait(ep, ev, 8, -1);
        if (n < 0) { printf("wait after fork: errno=%d\n", errno); break; }
        got = n;
        if (n < 2) usleep(1000);
    }
    waitpid(pid, NULL, 0);
    /* the child's two writes may be seen by one wait or by two, which rotates the ready list
     * differently (natively too): the order is not part of what is checked here */
    show_as("after the child", ep, 64, 0, 1);
    show_as("after the child, again", ep, 64, 0, 1);
    return 0;
}
