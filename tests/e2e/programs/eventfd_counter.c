/* eventfd: counter semantics, EFD_SEMAPHORE, EFD_NONBLOCK (EAGAIN), short buffers, poll, a
 * blocked reader woken by another process, overflow. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void rd(const char *what, int fd) {
    uint64_t v = 0;
    ssize_t n = read(fd, &v, sizeof v);
    if (n < 0) printf("%s: read -1 errno=%d\n", what, errno);
    else printf("%s: read %zd value=%llu\n", what, n, (unsigned long long)v);
}

static void wr(const char *what, int fd, uint64_t v) {
    ssize_t n = write(fd, &v, sizeof v);
    if (n < 0) printf("%s: write -1 errno=%d\n", what, errno);
    else printf("%s: write %zd\n", what, n);
}

static void pl(const char *what, int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
    int r = poll(&p, 1, 0);
    printf("%s: poll %d revents=0x%x\n", what, r, p.revents);
}

int main(void) {
    int fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    printf("flags: nonblock=%d cloexec=%d\n", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0,
           (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    pl("initial", fd);
    rd("counter", fd);
    rd("empty", fd);
    pl("empty", fd);
    wr("add 5", fd, 5);
    wr("add 7", fd, 7);
    rd("sum", fd);
    char small[4];
    ssize_t n = read(fd, small, sizeof small);
    printf("short read: %zd errno=%d\n", n, errno);
    n = write(fd, small, sizeof small);
    printf("short write: %zd errno=%d\n", n, errno);
    wr("max+1", fd, UINT64_MAX);
    wr("near max", fd, UINT64_MAX - 1);
    pl("full", fd);
    wr("overflow", fd, 1);
    rd("drain", fd);
    close(fd);

    int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    rd("sem 1", sem);
    rd("sem 2", sem);
    rd("sem empty", sem);
    close(sem);

    /* edge-triggered: a write is an event, a read (even leaving the counter > 0) is not */
    int es = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);
    int ep = epoll_create1(0);
    struct epoll_event eev = {.events = EPOLLIN | EPOLLET};
    epoll_ctl(ep, EPOLL_CTL_ADD, es, &eev);
    printf("et idle: %d\n", epoll_wait(ep, &eev, 1, 0));
    wr("et add 2", es, 2);
    printf("et write: %d\n", epoll_wait(ep, &eev, 1, 0));
    rd("et sem read", es);
    printf("et after read: %d\n", epoll_wait(ep, &eev, 1, 0));
    eev.events = EPOLLOUT | EPOLLET;
    epoll_ctl(ep, EPOLL_CTL_MOD, es, &eev);
    printf("et out: %d\n", epoll_wait(ep, &eev, 1, 0));
    rd("et sem read", es);
    printf("et out after read: %d\n", epoll_wait(ep, &eev, 1, 0));
    wr("et add 1", es, 1);
    printf("et out after write: %d\n", epoll_wait(ep, &eev, 1, 0));
    close(ep);
    close(es);

    int bad = eventfd(0, 0x40);
    printf("bad flags: %d errno=%d\n", bad, errno);

    /* a blocking reader woken by a child's write */
    int ev = eventfd(0, 0);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        uint64_t one = 42;
        write(ev, &one, sizeof one);
        _exit(0);
    }
    rd("blocking read", ev);
    waitpid(pid, NULL, 0);
    return 0;
}
