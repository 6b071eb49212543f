/* signalfd: blocked pending signals read as records (nonblocking, blocking, several at once),
 * readiness in poll and epoll, SIGCHLD from a child, mask updates, errors. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void rd(const char *what, int fd, size_t records) {
    struct signalfd_siginfo si[4];
    ssize_t n = read(fd, si, records * sizeof si[0]);
    if (n < 0) {
        printf("%s: -1 errno=%d\n", what, errno);
        return;
    }
    printf("%s: %zd bytes", what, n);
    for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++)
        if (si[i].ssi_signo == SIGCHLD) /* si_code CLD_*: not recorded by the cage runtime */
            printf(" {signo=%u}", si[i].ssi_signo);
        else
            printf(" {signo=%u code=%d from-me=%d}", si[i].ssi_signo, si[i].ssi_code,
                   si[i].ssi_pid == (unsigned)getpid());
    printf("\n");
}

int main(void) {
    printf("record size: %zu\n", sizeof(struct signalfd_siginfo));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    rd("nothing pending", sfd, 1);
    struct pollfd pf = {.fd = sfd, .events = POLLIN};
    int n = poll(&pf, 1, 0);
    printf("poll idle: %d\n", n);
    kill(getpid(), SIGUSR2);
    kill(getpid(), SIGUSR1);
    n = poll(&pf, 1, 0);
    printf("poll pending: %d revents=0x%x\n", n, pf.revents);
    rd("two records", sfd, 2);
    rd("drained", sfd, 1);

    char small[16];
    kill(getpid(), SIGUSR1);
    ssize_t r = read(sfd, small, sizeof small);
    printf("short read: %zd errno=%d\n", r, errno);
    rd("still pending", sfd, 1);

    /* epoll wakes when a child signals us */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = sfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        kill(parent, SIGUSR2);
        _exit(3);
    }
    n = epoll_wait(ep, &ev, 1, 5000);
    printf("epoll: %d events=0x%x\n", n, ev.events);
    struct signalfd_siginfo si;
    read(sfd, &si, sizeof si);
    printf("got signo=%u from-child=%d\n", si.ssi_signo, si.ssi_pid == (unsigned)pid);
    waitpid(pid, NULL, 0);
    n = epoll_wait(ep, &ev, 1, 5000);
    printf("sigchld epoll: %d\n", n);
    rd("sigchld", sfd, 1);

    /* a blocking read, on a descriptor whose mask is updated in place */
    sigset_t only1;
    sigemptyset(&only1);
    sigaddset(&only1, SIGUSR1);
    int bfd = signalfd(-1, &only1, 0);
    printf("update: %d\n", signalfd(bfd, &set, 0) == bfd);
    pid = fork();
    if (pid == 0) {
        usleep(50000);
        kill(parent, SIGUSR2);
        _exit(0);
    }
    rd("blocking read", bfd, 1);
    waitpid(pid, NULL, 0);
    rd("child's SIGCHLD", bfd, 1);

    int p[2];
    pipe(p);
    r = signalfd(p[0], &set, 0);
    printf("not a signalfd: %zd errno=%d\n", r, errno);
    r = signalfd(-1, &set, 0x1);
    printf("bad flags: %zd errno=%d\n", r, errno);
    r = signalfd(99, &set, 0);
    printf("bad fd: %zd errno=%d\n", r, errno);
    sigset_t pending;
    sigpending(&pending);
    printf("nothing left pending: %d\n", !sigismember(&pending, SIGUSR1) &&
           !sigismember(&pending, SIGUSR2) && !sigismember(&pending, SIGCHLD));
    return 0;
}
