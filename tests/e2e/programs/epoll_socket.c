#define _GNU_SOURCE
/* epoll over an AF_UNIX socketpair: edge-triggered input, level-triggered output, EPOLLRDHUP
 * and EPOLLHUP when the peer shuts down and closes; poll on the same sockets. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void wait_show(const char *what, int ep, int timeout) {
    struct epoll_event ev[4];
    int n = epoll_wait(ep, ev, 4, timeout);
    printf("%s: %d", what, n);
    for (int i = 0; i < n; i++) printf(" {0x%x data=%d}", ev[i].events, ev[i].data.fd);
    printf("\n");
}

int main(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = sv[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
    wait_show("idle", ep, 0);
    write(sv[1], "ping", 4);
    wait_show("data", ep, -1);
    wait_show("edge consumed", ep, 0);
    char buf[16];
    read(sv[0], buf, 2);
    write(sv[1], "!", 1);
    wait_show("more data", ep, -1);
    read(sv[0], buf, sizeof buf);

    int lt = epoll_create1(0);
    ev = (struct epoll_event){.events = EPOLLOUT, .data.fd = sv[1]};
    epoll_ctl(lt, EPOLL_CTL_ADD, sv[1], &ev);
    wait_show("writable", lt, 0);
    wait_show("writable again", lt, 0);

    shutdown(sv[1], SHUT_WR);
    wait_show("peer shut down writing", ep, -1);
    struct pollfd pf = {.fd = sv[0], .events = POLLIN | POLLRDHUP};
    int n = poll(&pf, 1, 0);
    printf("poll: %d revents=0x%x\n", n, pf.revents);
    close(sv[1]);
    wait_show("peer closed", ep, -1);
    pf.events = POLLIN | POLLOUT;
    n = poll(&pf, 1, 0);
    printf("poll closed: %d revents=0x%x\n", n, pf.revents);
    return 0;
}
