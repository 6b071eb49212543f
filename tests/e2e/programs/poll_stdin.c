/* poll/epoll/select on the host's stdio streams (pipes here): stdin's data and end of file,
 * stdout writable. */
#include <poll.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

int main(void) {
    struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = 1, .events = POLLOUT}};
    int n = poll(p, 1, -1);
    printf("poll stdin: %d in=0x%x\n", n, p[0].revents & POLLIN);
    n = poll(p, 2, -1);
    printf("poll both: %d in=0x%x out=0x%x\n", n, p[0].revents & POLLIN, p[1].revents);
    fflush(stdout);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = 0};
    printf("epoll add: %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev));
    n = epoll_wait(ep, &ev, 1, -1);
    printf("epoll: %d in=%d\n", n, (ev.events & EPOLLIN) != 0);

    char buf[4096];
    long total = 0;
    ssize_t got;
    while ((got = read(0, buf, sizeof buf)) > 0) total += got;
    printf("read %ld bytes\n", total);
    n = poll(p, 1, -1);
    printf("eof: %d hup=%d\n", n, (p[0].revents & POLLHUP) != 0);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(0, &r);
    n = select(1, &r, NULL, NULL, NULL);
    printf("select eof: %d set=%d\n", n, FD_ISSET(0, &r));
    return 0;
}
