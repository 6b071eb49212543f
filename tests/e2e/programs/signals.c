/* handlers, masks, sigsuspend, pending, SA_RESETHAND, alarm interrupting a blocking read */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t hits[65];
static volatile int info_pid_ok = 0;
static void on_sig(int sig) { hits[sig]++; }
static void on_info(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    hits[sig]++;
    info_pid_ok = info->si_signo == sig && info->si_pid == getpid();
}

int main(void) {
    signal(SIGUSR1, on_sig);
    raise(SIGUSR1);
    printf("raise -> handler ran %d time(s)\n", hits[SIGUSR1]);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR2, &sa, NULL);
    kill(getpid(), SIGUSR2);
    printf("siginfo handler: %d pid ok %d\n", hits[SIGUSR2], info_pid_ok);

    sigset_t block, old, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    sigpending(&pending);
    printf("blocked: ran %d, pending %d\n", hits[SIGUSR1], sigismember(&pending, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("unblocked: ran %d (signals do not queue)\n", hits[SIGUSR1]);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGHUP, &sa, NULL);
    raise(SIGHUP);
    struct sigaction now;
    sigaction(SIGHUP, NULL, &now);
    printf("resethand: ran %d, reset to default %d\n", hits[SIGHUP], now.sa_handler == SIG_DFL);

    signal(SIGALRM, on_sig);
    int p[2];
    pipe(p);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;   /* no SA_RESTART: the read fails with EINTR */
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    char c;
    errno = 0;
    ssize_t r = read(p[0], &c, 1);
    printf("alarm interrupted read: %zd EINTR=%d alarms=%d\n", r, errno == EINTR, hits[SIGALRM]);

    struct timespec long_nap = {5, 0}, rem = {0, 0};
    struct itimerval tv = {{0, 0}, {0, 200000}};
    setitimer(ITIMER_REAL, &tv, NULL);
    errno = 0;
    int s = nanosleep(&long_nap, &rem);
    printf("itimer interrupted nanosleep: %d EINTR=%d rem>3s=%d\n", s, errno == EINTR, rem.tv_sec >= 3);

    sigprocmask(SIG_BLOCK, &block, &old);
    kill(getpid(), SIGUSR1);
    sigset_t wait_mask;
    sigfillset(&wait_mask);
    sigdelset(&wait_mask, SIGUSR1);
    int before = hits[SIGUSR1];
    s = sigsuspend(&wait_mask);
    printf("sigsuspend: %d EINTR=%d handled=%d\n", s, errno == EINTR, hits[SIGUSR1] - before);
    sigprocmask(SIG_SETMASK, NULL, &old);
    printf("mask restored: USR1 blocked=%d\n", sigismember(&old, SIGUSR1));

    signal(SIGTERM, SIG_IGN);
    raise(SIGTERM);
    printf("ignored SIGTERM, still here\n");
    signal(SIGTERM, SIG_DFL);
    fflush(stdout);
    raise(SIGTERM);
    printf("not reached\n");
    return 0;
}
