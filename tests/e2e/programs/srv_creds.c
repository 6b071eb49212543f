/* Credentials and who may signal whom (POSIX: the same user, or root), run as the host user
 * (root here, natively and in the cage): siblings signal each other, a process that dropped its
 * privileges cannot regain them nor signal root, forks inherit, exec keeps them. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int sig) { (void)sig; got = 1; }

static void ids(const char *tag) {
    uid_t r, e, s;
    gid_t rg, eg, sg;
    getresuid(&r, &e, &s);
    getresgid(&rg, &eg, &sg);
    printf("%s: uid %u/%u/%u gid %u/%u/%u getuid %u geteuid %u getgid %u getegid %u\n", tag,
           r, e, s, rg, eg, sg, getuid(), geteuid(), getgid(), getegid());
}

static int status_of(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define TRY(expr)                                                                  \
    do {                                                                           \
        errno = 0;                                                                 \
        long r_ = (long)(expr);                                                    \
        int e_ = errno;                                                            \
        printf("%-40s -> %ld %s\n", #expr, r_, e_ ? strerror(e_) : "");             \
    } while (0)

static void siblings(void) {
    /* A waits for SIGUSR1; B (its sibling, not its creator) sends it. */
    int p[2];
    pipe(p);
    pid_t a = fork();
    if (a == 0) {
        signal(SIGUSR1, on_usr1);
        close(p[0]);
        write(p[1], "r", 1);
        while (!got) pause();
        _exit(7);
    }
    char c;
    read(p[0], &c, 1);
    pid_t b = fork();
    if (b == 0) _exit(kill(a, SIGUSR1) == 0 ? 0 : errno);
    printf("sibling sender exit %d\n", status_of(b));
    printf("sibling target exit %d\n", status_of(a));
    close(p[0]);
    close(p[1]);
}

static void dropped(const char *self) {
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        errno = 0;
        TRY(setgroups(0, NULL));
        TRY(setgid(100));
        TRY(setuid(1000));
        ids("dropped");
        TRY(getgroups(0, NULL));
        TRY(setuid(0));
        TRY(seteuid(0));
        TRY(setresuid(-1, 0, -1));
        TRY(setgid(0));
        TRY(setgroups(0, NULL));
        TRY(setuid(1000));
        TRY(setfsuid(0));
        TRY(setfsuid(1000));
        TRY(kill(parent, 0));  /* root: refused */
        TRY(kill(getpid(), 0));
        TRY(kill(1 << 22, 0));
        pid_t g = fork();
        if (g == 0) {
            ids("grandchild");
            _exit(kill(getppid(), 0) == 0 ? 3 : 4);  /* same user */
        }
        printf("grandchild exit %d\n", status_of(g));
        pid_t other = fork();
        if (other == 0) {
            errno = 0;
            setuid(2000);  /* not root: no way to 2000 */
            _exit(errno == EPERM ? 6 : 5);
        }
        printf("other exit %d\n", status_of(other));
        fflush(stdout);
        char *argv[] = {(char *)self, "exec", NULL};
        execv("/proc/self/exe", argv);
        printf("exec failed %s\n", strerror(errno));
        _exit(1);
    }
    printf("dropped child exit %d\n", status_of(child));
    /* root signals the dropped process; the dropped one cannot signal a root sibling */
    int p[2];
    pipe(p);
    pid_t rooted = fork();
    if (rooted == 0) {
        close(p[1]);
        char c;
        read(p[0], &c, 1);
        _exit(0);
    }
    pid_t user = fork();
    if (user == 0) {
        setuid(2000);
        _exit(kill(rooted, SIGKILL) == 0 ? 0 : errno);
    }
    printf("user->root sibling exit %d (EPERM is %d)\n", status_of(user), EPERM);
    close(p[0]);
    close(p[1]);
    printf("root sibling exit %d\n", status_of(rooted));
}

static void temporary(void) {
    pid_t child = fork();
    if (child == 0) {
        errno = 0;
        TRY(seteuid(1000));
        ids("seteuid");
        TRY(setegid(100));
        TRY(seteuid(0));
        TRY(setreuid(1000, 1000));
        TRY(setregid(-1, 100));
        ids("setreuid");
        TRY(seteuid(0));
        TRY(setresuid(1000, 1000, 1000));
        _exit(0);
    }
    printf("temporary exit %d\n", status_of(child));
}

static void groups(void) {
    pid_t child = fork();
    if (child == 0) {
        errno = 0;
        gid_t set[3] = {10, 20, 30}, got_[8];
        TRY(setgroups(3, set));
        TRY(getgroups(0, NULL));
        TRY(getgroups(2, got_));
        int n = getgroups(8, got_);
        for (int i = 0; i < n; i++) printf("group %u\n", got_[i]);
        TRY(initgroups("nobody", 65534));
        n = getgroups(8, got_);
        int found = 0;
        for (int i = 0; i < n; i++) found |= got_[i] == 65534;
        printf("initgroups: nobody's group listed %d\n", found);
        _exit(0);
    }
    printf("groups exit %d\n", status_of(child));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        ids("after exec");
        errno = 0;
        TRY(setuid(0));
        return 9;
    }
    ids("start");
    siblings();
    dropped(argv[0]);
    temporary();
    groups();
    return 0;
}
