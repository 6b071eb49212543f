/* waitpid/setsid: a WNOHANG polling loop over children exiting at different times (0 returns,
 * reaped pids and statuses, then ECHILD), waitpid(0) and waitpid(-pgid), stopped and continued
 * children, setsid in a child that is not a group leader (and EPERM once it leads one), SIGCHLD
 * ignored and SA_NOCLDWAIT (children are not left as zombies: waits end in ECHILD). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CALL(label, expr)                                                                  \
    do {                                                                                   \
        errno = 0;                                                                         \
        long long r_ = (expr);                                                             \
        int e_ = errno;                                                                    \
        printf("%-34s %lld errno %d\n", label, r_, r_ < 0 ? e_ : 0);                       \
    } while (0)

static void ms(int n) {
    struct timespec t = {0, n * 1000000L};
    while (nanosleep(&t, &t) && errno == EINTR) {}
}

/* WNOHANG until something other than 0 (at most ~5 s): the child's fate once it is gone */
static pid_t poll_until_gone(int *st) {
    pid_t r;
    for (int tries = 0; (r = waitpid(-1, st, WNOHANG)) == 0 && tries < 2500; tries++) ms(2);
    return r;
}

static int index_of(pid_t *kids, int n, pid_t pid) {
    for (int i = 0; i < n; i++)
        if (kids[i] == pid) return i;
    return -1;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int st = 0;

    /* setsid in a child that is not a group leader */
    pid_t c = fork();
    if (c == 0) {
        int leader = getpgrp() == getpid();
        pid_t s = setsid();
        int ok = s == getpid();
        printf("child: was leader %d, setsid ok %d, sid %d, pgid %d\n", leader, ok,
               getsid(0) == getpid(), getpgrp() == getpid());
        errno = 0;
        s = setsid();
        printf("child: setsid as leader %d EPERM %d\n", (int)s, errno == EPERM);
        _exit(0);
    }
    waitpid(c, &st, 0);

    /* a group leader's child, moved to its own group, cannot setsid; its own child can */
    int go[2];
    pipe(go);
    c = fork();
    if (c == 0) {
        char x;
        read(go[0], &x, 1);
        errno = 0;
        pid_t s = setsid();
        printf("moved child: setsid %d EPERM %d\n", (int)s, errno == EPERM);
        pid_t g = fork();
        if (g == 0) {
            s = setsid();
            printf("grandchild: setsid ok %d\n", s == getpid());
            _exit(0);
        }
        waitpid(g, NULL, 0);
        _exit(0);
    }
    setpgid(c, c);
    write(go[1], "g", 1);
    waitpid(c, &st, 0);

    /* WNOHANG polling: three children, each exiting when the parent lets it */
    pid_t kids[3];
    int release[3][2];
    for (int i = 0; i < 3; i++) {
        pipe(release[i]);
        kids[i] = fork();
        if (kids[i] == 0) {
            char x;
            read(release[i][0], &x, 1);
            _exit(10 + i);
        }
    }
    int zeros = 0;
    for (int i = 2; i >= 0; i--) { /* the last born exits first */
        write(release[i][1], "x", 1);
        for (;;) {
            pid_t r = waitpid(-1, &st, WNOHANG);
            if (r == 0) {
                zeros++;
                ms(2);
                continue;
            }
            if (r < 0) {
                printf("poll: error %d\n", errno);
                break;
            }
            printf("poll: reaped kid%d exited %d status %d\n", index_of(kids, 3, r),
                   WIFEXITED(st), WEXITSTATUS(st));
            break;
        }
    }
    printf("poll: saw 0 returns %d\n", zeros > 0);
    CALL("poll after all reaped", waitpid(-1, &st, WNOHANG));
    CALL("wait after all reaped", wait(&st));

    /* waitpid(0): own group; waitpid(-pgid): another group */
    int pa[2], pb[2];
    pipe(pa);
    pipe(pb);
    pid_t a = fork();
    if (a == 0) {
        char x;
        read(pa[0], &x, 1);
        _exit(3);
    }
    pid_t b = fork();
    if (b == 0) {
        char x;
        setpgid(0, 0);
        read(pb[0], &x, 1);
        _exit(4);
    }
    setpgid(b, b);
    CALL("waitpid(0) none yet", waitpid(0, &st, WNOHANG));
    write(pa[1], "x", 1);
    pid_t r = waitpid(0, &st, 0);
    printf("waitpid(0) got a %d status %d\n", r == a, WEXITSTATUS(st));
    CALL("waitpid(0) only b left (other group)", waitpid(0, &st, WNOHANG));
    CALL("waitpid(-pgid) not yet", waitpid(-b, &st, WNOHANG));
    write(pb[1], "x", 1);
    r = waitpid(-b, &st, 0);
    printf("waitpid(-pgid) got b %d status %d\n", r == b, WEXITSTATUS(st));
    CALL("waitpid(-pgid) none left", waitpid(-b, &st, WNOHANG));
    CALL("waitpid of a non-child", waitpid(getppid(), &st, WNOHANG));
    CALL("bad options", waitpid(-1, &st, 0x1000));

    /* stopped and continued children */
    pid_t s = fork();
    if (s == 0)
        for (;;) pause();
    kill(s, SIGSTOP);
    int tries = 0;
    while ((r = waitpid(s, &st, WNOHANG | WUNTRACED)) == 0 && tries++ < 2500) ms(2);
    printf("WUNTRACED: got %d stopped %d by %d\n", r == s, WIFSTOPPED(st), WSTOPSIG(st));
    CALL("WUNTRACED again", waitpid(s, &st, WNOHANG | WUNTRACED));
    CALL("stopped, WNOHANG only", waitpid(s, &st, WNOHANG));
    kill(s, SIGCONT);
    tries = 0;
    while ((r = waitpid(s, &st, WNOHANG | WCONTINUED)) == 0 && tries++ < 2500) ms(2);
    printf("WCONTINUED: got %d continued %d\n", r == s, WIFCONTINUED(st));
    CALL("WCONTINUED again", waitpid(s, &st, WNOHANG | WCONTINUED));
    kill(s, SIGKILL);
    r = waitpid(s, &st, 0);
    printf("killed: got %d signaled %d by %d\n", r == s, WIFSIGNALED(st), WTERMSIG(st));

    /* SIGCHLD ignored: no zombies */
    signal(SIGCHLD, SIG_IGN);
    a = fork();
    if (a == 0) _exit(1);
    CALL("SIG_IGN: poll", poll_until_gone(&st));
    b = fork();
    if (b == 0) {
        ms(30);
        _exit(2);
    }
    CALL("SIG_IGN: blocking wait", waitpid(-1, &st, 0));
    CALL("SIG_IGN: by pid", waitpid(b, &st, WNOHANG));

    /* SA_NOCLDWAIT with the default action */
    struct sigaction sa = {0};
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &sa, NULL);
    a = fork();
    if (a == 0) _exit(3);
    CALL("SA_NOCLDWAIT: poll", poll_until_gone(&st));

    /* back to the default: zombies again */
    signal(SIGCHLD, SIG_DFL);
    a = fork();
    if (a == 0) _exit(5);
    r = poll_until_gone(&st);
    printf("default again: got %d status %d\n", r == a, WEXITSTATUS(st));
    return 0;
}
