/* epoll over pipes: edge- and level-triggered, EPOLLONESHOT + EPOLL_CTL_MOD, hang-up, errors,
 * interest lists keyed by open file description, nested epoll, epoll in poll. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int wait_show(const char *what, int ep, int timeout) {
    struct epoll_event ev[8];
    memset(ev, 0, sizeof ev);
    int n = epoll_wait(ep, ev, 8, timeout);
    printf("%s: %d", what, n);
    if (n < 0) printf(" errno=%d", errno);
    for (int i = 0; i < n; i++) printf(" {0x%x data=%llu}", ev[i].events, (unsigned long long)ev[i].data.u64);
    printf("\n");
    return n;
}

static int ctl(int ep, int op, int fd, unsigned events, unsigned long long data) {
    struct epoll_event ev = {.events = events};
    ev.data.u64 = data;
    int r = epoll_ctl(ep, op, fd, &ev);
    return r < 0 ? -errno : r;
}

int main(void) {
    int p[2];
    char buf[16];
    pipe(p);

    /* edge-triggered */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    printf("cloexec: %d\n", (fcntl(ep, F_GETFD) & FD_CLOEXEC) != 0);
    printf("add et: %d\n", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET, 7));
    wait_show("et empty", ep, 0);
    write(p[1], "ab", 2);
    wait_show("et after write", ep, 0);
    wait_show("et again", ep, 0);
    read(p[0], buf, 1);
    wait_show("et after partial read", ep, 0);
    write(p[1], "c", 1);
    wait_show("et after second write", ep, -1);
    wait_show("et again", ep, 0);
    printf("mod et: %d\n", ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, 8));
    wait_show("et after mod (still ready)", ep, 0);
    wait_show("et again", ep, 0);

    /* level-triggered on the same pipe through a second instance */
    int lt = epoll_create(1);
    printf("add lt: %d\n", ctl(lt, EPOLL_CTL_ADD, p[0], EPOLLIN, 9));
    wait_show("lt", lt, 0);
    wait_show("lt again", lt, 0);
    read(p[0], buf, sizeof buf);
    wait_show("lt drained", lt, 0);
    printf("add lt writer: %d\n", ctl(lt, EPOLL_CTL_ADD, p[1], EPOLLOUT, 10));
    wait_show("lt writer", lt, 0);
    printf("del lt writer: %d\n", ctl(lt, EPOLL_CTL_DEL, p[1], 0, 0));

    /* nested epoll and epoll in poll */
    int outer = epoll_create1(0);
    printf("add nested: %d\n", ctl(outer, EPOLL_CTL_ADD, lt, EPOLLIN, 11));
    wait_show("outer idle", outer, 0);
    struct pollfd pf = {.fd = lt, .events = POLLIN};
    printf("poll lt idle: %d\n", poll(&pf, 1, 0));
    write(p[1], "d", 1);
    wait_show("outer", outer, 100);
    int pr = poll(&pf, 1, 0);
    printf("poll lt: %d revents=0x%x\n", pr, pf.revents);
    printf("loop: %d\n", ctl(lt, EPOLL_CTL_ADD, outer, EPOLLIN, 0));
    printf("self: %d\n", ctl(lt, EPOLL_CTL_ADD, lt, EPOLLIN, 0));
    read(p[0], buf, sizeof buf);

    /* hang-up */
    close(p[1]);
    wait_show("et writer closed", ep, 0);
    wait_show("lt writer closed", lt, 0);
    close(p[0]);

    /* oneshot */
    pipe(p);
    int os = epoll_create1(0);
    printf("add oneshot: %d\n", ctl(os, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLONESHOT, 12));
    write(p[1], "x", 1);
    wait_show("oneshot", os, 0);
    wait_show("oneshot disabled", os, 0);
    write(p[1], "y", 1);
    wait_show("oneshot still disabled", os, 0);
    printf("rearm: %d\n", ctl(os, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, 13));
    wait_show("oneshot rearmed", os, 0);
    wait_show("oneshot disabled", os, 0);

    /* errors */
    printf("eexist: %d\n", ctl(os, EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
    printf("enoent mod: %d\n", ctl(os, EPOLL_CTL_MOD, p[1], EPOLLOUT, 0));
    printf("enoent del: %d\n", ctl(os, EPOLL_CTL_DEL, p[1], 0, 0));
    printf("bad op: %d\n", ctl(os, 99, p[0], EPOLLIN, 0));
    printf("not epoll: %d\n", ctl(p[0], EPOLL_CTL_ADD, p[1], EPOLLOUT, 0));
    printf("ebadf: %d\n", ctl(os, EPOLL_CTL_ADD, 999, EPOLLIN, 0));
    int f = open("regular", O_CREAT | O_RDWR, 0600);
    printf("regular file: %d\n", ctl(os, EPOLL_CTL_ADD, f, EPOLLIN, 0));
    close(f);
    printf("exclusive mod: %d\n", ctl(os, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLEXCLUSIVE, 0));
    printf("exclusive add: %d\n", ctl(os, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 14));
    printf("exclusive bad bits: %d\n", ctl(lt, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
    printf("exclusive on epoll: %d\n", ctl(os, EPOLL_CTL_ADD, lt, EPOLLIN | EPOLLEXCLUSIVE, 0));
    struct epoll_event evs[1];
    int r = epoll_wait(os, evs, 0, 0);
    printf("maxevents 0: %d errno=%d\n", r, errno);
    r = epoll_wait(p[0], evs, 1, 0);
    printf("wait not epoll: %d errno=%d\n", r, errno);
    r = epoll_wait(999, evs, 1, 0);
    printf("wait ebadf: %d errno=%d\n", r, errno);
    r = epoll_create(0);
    printf("create 0: %d errno=%d\n", r, errno);
    r = epoll_create1(1);
    printf("create1 bad: %d errno=%d\n", r, errno);
    close(p[0]);
    close(p[1]);

    /* the interest list holds open file descriptions */
    int ds = epoll_create1(0);
    pipe(p);
    read(p[0], buf, 0);
    printf("add: %d\n", ctl(ds, EPOLL_CTL_ADD, p[0], EPOLLIN, 15));
    int keep = dup(p[0]);
    close(p[0]);
    write(p[1], "z", 1);
    printf("mod through the dup: %d\n", ctl(ds, EPOLL_CTL_MOD, keep, EPOLLIN, 16));
    wait_show("after closing the original fd", ds, 0);
    close(keep);
    wait_show("after closing the last fd", ds, 0);
    close(p[1]);
    pipe(p);
    printf("re-add after last close: %d\n", ctl(ds, EPOLL_CTL_ADD, p[0], EPOLLIN, 17));
    wait_show("new pipe idle", ds, 0);
    write(p[1], "w", 1);
    wait_show("new pipe", ds, 0);
    return 0;
}
