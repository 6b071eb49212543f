#define _GNU_SOURCE
/* Signal-driven I/O (nginx's channel): O_ASYNC on a pipe and a socketpair, FIOASYNC on and
 * off, F_SETOWN/F_GETOWN (a pid, a process group), F_SETOWN_EX, F_SETSIG with si_code/si_fd/
 * si_band, a peer closing, and the errors. SIGIO is blocked around every event and taken with
 * sigsuspend, so the output does not depend on timing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t hits, usr1_code, usr1_fd, usr1_band;

static void on_sigio(int sig) { (void)sig; hits++; }

static void on_usr1(int sig, siginfo_t *info, void *ctx) {
    (void)sig, (void)ctx;
    hits++;
    usr1_code = info->si_code;
    usr1_fd = info->si_fd;
    usr1_band = (int)info->si_band;
}

static int pending(int sig) {
    sigset_t set;
    sigpending(&set);
    return sigismember(&set, sig);
}

/* Wait (SIGIO blocked outside) until a handler has run. */
static void await_signal(void) {
    sigset_t none;
    sigemptyset(&none);
    while (!hits) sigsuspend(&none);
}

static void child_writes(int fd, int close_only) {
    pid_t pid = fork();
    if (pid == 0) {
        usleep(20000);
        if (!close_only) write(fd, "x", 1);
        _exit(0);
    }
    close(fd);
    await_signal();
    waitpid(pid, NULL, 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    setpgid(0, 0);  /* our own process group: F_SETOWN -pgrp must reach no one else */
    struct sigaction sa = {0};
    sa.sa_handler = on_sigio;
    sigaction(SIGIO, &sa, NULL);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGIO);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);

    /* A pipe: O_ASYNC through F_SETFL, owner = ourselves, a child writes. */
    int p[2];
    pipe(p);
    printf("getown before: %d\n", fcntl(p[0], F_GETOWN));
    printf("setown self: %d\n", fcntl(p[0], F_SETOWN, getpid()));
    printf("getown is self: %d\n", fcntl(p[0], F_GETOWN) == getpid());
    printf("O_ASYNC before: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC);
    printf("O_ASYNC after: %d\n", !!(fcntl(p[0], F_GETFL) & O_ASYNC));
    printf("nothing yet: %d\n", pending(SIGIO));
    hits = 0;
    child_writes(p[1], 0);
    char buf[16];
    printf("pipe: sigio %d, read %zd\n", hits > 0, read(p[0], buf, sizeof buf));

    /* Our own write on a shared description (dup): the signal is pending at once. */
    int q[2];
    pipe(q);
    int q0 = dup(q[0]);
    fcntl(q0, F_SETOWN, getpid());
    int on = 1;
    printf("fioasync on: %d\n", ioctl(q[0], FIOASYNC, &on));
    printf("O_ASYNC via dup: %d\n", !!(fcntl(q0, F_GETFL) & O_ASYNC));
    write(q[1], "ab", 2);
    printf("own write: pending %d\n", pending(SIGIO));
    hits = 0;
    await_signal();
    read(q[0], buf, sizeof buf);
    on = 0;
    printf("fioasync off: %d\n", ioctl(q[0], FIOASYNC, &on));
    printf("O_ASYNC off: %d\n", !!(fcntl(q0, F_GETFL) & O_ASYNC));
    write(q[1], "c", 1);
    printf("off: pending %d\n", pending(SIGIO));
    read(q[0], buf, sizeof buf);

    /* A socketpair: a child writes, then a child only closes its end. */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fcntl(sv[0], F_SETOWN, getpid());
    on = 1;
    ioctl(sv[0], FIOASYNC, &on);
    int keep = dup(sv[1]);
    hits = 0;
    child_writes(sv[1], 0);
    printf("socket data: sigio %d, read %zd\n", hits > 0, read(sv[0], buf, sizeof buf));
    hits = 0;
    child_writes(keep, 1);
    printf("socket peer closed: sigio %d, read %zd\n", hits > 0, read(sv[0], buf, sizeof buf));

    /* F_SETSIG: SIGUSR1 with siginfo. */
    struct sigaction si = {0};
    si.sa_sigaction = on_usr1;
    si.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &si, NULL);
    int r[2];
    pipe(r);
    fcntl(r[0], F_SETOWN, getpid());
    printf("setsig: %d\n", fcntl(r[0], F_SETSIG, SIGUSR1));
    printf("getsig: %d\n", fcntl(r[0], F_GETSIG) == SIGUSR1);
    fcntl(r[0], F_SETFL, O_ASYNC | O_NONBLOCK);
    write(r[1], "z", 1);
    printf("setsig: SIGUSR1 pending %d, SIGIO pending %d\n", pending(SIGUSR1), pending(SIGIO));
    hits = 0;
    await_signal();
    printf("siginfo: code POLL_IN %d, fd ok %d, band POLLIN %d\n", usr1_code == POLL_IN,
           usr1_fd == r[0], !!(usr1_band & POLLIN));
    read(r[0], buf, sizeof buf);

    /* A process group owner; F_GETOWN_EX reads it back. */
    int g[2];
    pipe(g);
    printf("setown pgrp: %d\n", fcntl(g[0], F_SETOWN, -getpgrp()));
    printf("getown is -pgrp: %d\n", fcntl(g[0], F_GETOWN) == -getpgrp());
    struct f_owner_ex ex;
    fcntl(g[0], F_GETOWN_EX, &ex);
    printf("getown_ex: type pgrp %d, pid ok %d\n", ex.type == F_OWNER_PGRP, ex.pid == getpgrp());
    fcntl(g[0], F_SETFL, O_ASYNC);
    write(g[1], "g", 1);
    printf("pgrp: pending %d\n", pending(SIGIO));
    hits = 0;
    await_signal();
    ex.type = F_OWNER_PID;
    ex.pid = getpid();
    printf("setown_ex pid: %d\n", fcntl(g[0], F_SETOWN_EX, &ex));
    printf("getown after ex: %d\n", fcntl(g[0], F_GETOWN) == getpid());

    /* Errors: a process that is gone, a bad signal number, a bad owner type. */
    pid_t gone = fork();
    if (gone == 0) _exit(0);
    waitpid(gone, NULL, 0);
    int rc = fcntl(g[0], F_SETOWN, gone);
    printf("setown gone: %d errno %s\n", rc, strerror(errno));
    rc = fcntl(g[0], F_SETSIG, 65);
    printf("setsig 65: %d errno %s\n", rc, strerror(errno));
    ex.type = 7;
    rc = fcntl(g[0], F_SETOWN_EX, &ex);
    printf("setown_ex type 7: %d errno %s\n", rc, strerror(errno));
    rc = fcntl(g[0], F_SETOWN, 0);
    printf("setown 0: %d, getown %d\n", rc, fcntl(g[0], F_GETOWN));
    write(g[1], "h", 1);
    printf("no owner: pending %d\n", pending(SIGIO));
    return 0;
}
