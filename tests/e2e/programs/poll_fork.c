/* poll and epoll across fork: the parent waits (no timeout) and wakes when the child writes
 * after a sleep, then sees the hang-up when the child exits. The child exits only once the
 * parent has read everything (a second pipe), so the events seen do not depend on timing. */
#include <poll.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int p[2], done[2];
    pipe(p);
    pipe(done);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(p[0]);
        close(done[1]);
        usleep(100000);
        write(p[1], "hello", 5);
        usleep(100000);
        write(p[1], "again", 5);
        read(done[0], &c, 1);
        _exit(0);
    }
    close(p[1]);
    close(done[0]);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    int n = poll(&pf, 1, -1);
    printf("poll: %d revents=0x%x\n", n, pf.revents);
    char buf[16];
    ssize_t got = read(p[0], buf, sizeof buf);
    printf("read: %.*s\n", (int)got, buf);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = p[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    struct epoll_event out;
    n = epoll_wait(ep, &out, 1, -1);
    printf("epoll: %d events=0x%x fd-match=%d\n", n, out.events, out.data.fd == p[0]);
    got = read(p[0], buf, sizeof buf);
    printf("read: %.*s\n", (int)got, buf);

    close(done[1]);
    int status;
    waitpid(pid, &status, 0);
    n = poll(&pf, 1, -1);
    printf("after exit: %d revents=0x%x\n", n, pf.revents);
    n = epoll_wait(ep, &out, 1, 1000);
    printf("epoll after exit: %d events=0x%x\n", n, out.events);
    return 0;
}
