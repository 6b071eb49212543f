/* process groups and sessions after fork; RLIMIT_NOFILE enforced */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int go[2];
    pipe(go);
    pid_t child = fork();
    if (child == 0) {
        char c;
        read(go[0], &c, 1);   /* wait until the parent moved us to a new group */
        int own_group = getpgrp() == getpid();
        pid_t sid = setsid(); /* a group leader cannot start a session */
        int eperm = sid == -1 && errno == EPERM;
        printf("child: own group %d, setsid as leader fails %d\n", own_group, eperm);
        fflush(stdout);
        pid_t grandchild = fork();
        if (grandchild == 0) {
            pid_t s = setsid();
            printf("grandchild: new session %d, leads group %d\n", s == getpid(), getpgrp() == getpid());
            fflush(stdout);
            _exit(0);
        }
        waitpid(grandchild, NULL, 0);
        _exit(0);
    }
    int moved = setpgid(child, child) == 0;
    int seen = getpgid(child) == child;
    int same_session = getsid(child) == getsid(0);
    printf("parent: setpgid %d, getpgid sees it %d, same session %d\n", moved, seen, same_session);
    fflush(stdout);
    write(go[1], "g", 1);
    waitpid(child, NULL, 0);
    errno = 0;
    int rc = setpgid(child, child);
    printf("setpgid of a reaped child: %d ESRCH=%d\n", rc, errno == ESRCH);

    struct rlimit lim = {16, 16};
    printf("lower NOFILE: %d\n", setrlimit(RLIMIT_NOFILE, &lim));
    int opened = 0, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0) opened++;
    printf("opened until EMFILE: %d (errno EMFILE=%d), highest < 16\n", opened > 0, errno == EMFILE);
    struct rlimit now;
    getrlimit(RLIMIT_NOFILE, &now);
    printf("limit reads back: %llu %llu\n", (unsigned long long)now.rlim_cur, (unsigned long long)now.rlim_max);
    lim.rlim_max = 100000;
    errno = 0;
    rc = setrlimit(RLIMIT_NOFILE, &lim);
    printf("raise hard limit unprivileged: %d EPERM=%d\n", rc, errno == EPERM);
    return 0;
}
