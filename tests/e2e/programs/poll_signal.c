/* A signal whose handler lacks SA_RESTART interrupts poll, select, epoll_wait, ppoll with EINTR;
 * ppoll/pselect/epoll_pwait apply their signal mask for the wait only. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms, usr1;

static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_usr1(int sig) { (void)sig; usr1++; }

static void arm(void) {
    struct itimerval it = {.it_value = {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static int blocked(int sig) {
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, sig);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART */
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);

    int p[2];
    pipe(p);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};

    arm();
    int n = poll(&pf, 1, -1);
    printf("poll: %d errno=%d alarms=%d\n", n, n < 0 ? errno : 0, alarms);

    arm();
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    n = select(p[0] + 1, &r, NULL, NULL, NULL);
    printf("select: %d errno=%d alarms=%d\n", n, n < 0 ? errno : 0, alarms);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    arm();
    n = epoll_wait(ep, &ev, 1, 5000);
    printf("epoll_wait: %d errno=%d alarms=%d\n", n, n < 0 ? errno : 0, alarms);

    arm();
    struct timespec ts = {5, 0};
    n = ppoll(&pf, 1, &ts, NULL);
    printf("ppoll: %d errno=%d alarms=%d\n", n, n < 0 ? errno : 0, alarms);

    /* SA_RESTART does not restart poll either */
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    arm();
    n = poll(&pf, 1, 5000);
    printf("poll SA_RESTART: %d errno=%d alarms=%d\n", n, n < 0 ? errno : 0, alarms);

    /* ppoll's mask: a pending blocked SIGUSR1 is delivered during the wait */
    sigset_t block, empty, only_usr1;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    kill(getpid(), SIGUSR1);
    printf("pending, blocked: usr1=%d\n", usr1);
    sigemptyset(&empty);
    n = ppoll(&pf, 1, &ts, &empty);
    printf("ppoll unmasking: %d errno=%d usr1=%d still blocked=%d\n", n, n < 0 ? errno : 0, usr1,
           blocked(SIGUSR1));

    /* a mask that keeps it blocked: the wait times out, the signal stays pending */
    kill(getpid(), SIGUSR1);
    only_usr1 = block;
    struct timespec short_ts = {0, 30000000};
    n = ppoll(&pf, 1, &short_ts, &only_usr1);
    printf("ppoll masked: %d usr1=%d\n", n, usr1);
    short_ts = (struct timespec){0, 30000000};
    n = pselect(p[0] + 1, &r, NULL, NULL, &short_ts, &only_usr1);
    printf("pselect masked: %d usr1=%d\n", n, usr1);
    n = epoll_pwait(ep, &ev, 1, 30, &only_usr1);
    printf("epoll_pwait masked: %d usr1=%d\n", n, usr1);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    n = pselect(p[0] + 1, &r, NULL, NULL, &ts, &empty);
    printf("pselect unmasking: %d errno=%d usr1=%d still blocked=%d\n", n, n < 0 ? errno : 0,
           usr1, blocked(SIGUSR1));
    kill(getpid(), SIGUSR1);
    n = epoll_pwait(ep, &ev, 1, 5000, &empty);
    printf("epoll_pwait unmasking: %d errno=%d usr1=%d still blocked=%d\n", n,
           n < 0 ? errno : 0, usr1, blocked(SIGUSR1));
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    printf("unblocked: usr1=%d\n", usr1);

    /* ready descriptors win over a pending signal */
    write(p[1], "x", 1);
    kill(getpid(), SIGUSR1);
    n = ppoll(&pf, 1, &ts, &empty);
    printf("ready: %d usr1=%d\n", n, usr1);
    return 0;
}
