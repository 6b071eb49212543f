/* Locks that must hold across worlds, microvisors and host programs.
 *   count FILE N fcntl|flock GO  print "ready", wait until the file GO exists, then N times:
 *                              take an exclusive lock on FILE (blocking), read the decimal
 *                              counter in it, pause, write counter+1, unlock;
 *   hold FILE fcntl|flock      take an exclusive lock, print "locked", wait for a line on stdin;
 *   probe FILE                 while another process holds FILE locked: report F_SETLK, F_GETLK,
 *                              flock(LOCK_NB), then F_SETLKW and flock interrupted by SIGALRM;
 *   wait FILE fcntl|flock      print "waiting", take the lock blocking, print "got it";
 *   deadlock FILE              parent and child each hold a byte and want the other's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *errname(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EACCES: return "EACCES";
    case EINTR: return "EINTR";
    case EDEADLK: return "EDEADLK";
    case EBADF: return "EBADF";
    default: return strerror(e);
    }
}

static int lock(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

static int take(int fd, int use_flock) {
    return use_flock ? flock(fd, LOCK_EX) : lock(fd, F_SETLKW, F_WRLCK, 0, 0);
}

static int give(int fd, int use_flock) {
    return use_flock ? flock(fd, LOCK_UN) : lock(fd, F_SETLK, F_UNLCK, 0, 0);
}

static int count(const char *path, int n, int use_flock, const char *go) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return 2;
    printf("ready\n");
    while (access(go, F_OK) != 0) usleep(1000);
    for (int i = 0; i < n; i++) {
        if (take(fd, use_flock) != 0) { printf("lock: %s\n", errname(errno)); return 3; }
        char buf[32] = {0};
        if (pread(fd, buf, sizeof buf - 1, 0) < 0) return 4;
        long value = strtol(buf, NULL, 10);
        usleep(300); /* a lost update is all but certain without exclusion */
        int len = snprintf(buf, sizeof buf, "%010ld\n", value + 1);
        if (pwrite(fd, buf, len, 0) != len) return 5;
        if (give(fd, use_flock) != 0) return 6;
        usleep(500);
    }
    printf("done\n");
    return 0;
}

static int hold(const char *path, int use_flock) {
    int fd = open(path, O_RDWR);
    if (fd < 0 || take(fd, use_flock) != 0) return 2;
    printf("locked\n");
    char c;
    read(0, &c, 1);
    return 0;
}

static void on_alarm(int sig) { (void)sig; }

static int probe(const char *path) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return 2;
    errno = 0;
    int r = lock(fd, F_SETLK, F_WRLCK, 0, 1);
    printf("F_SETLK: %d %s\n", r, r ? errname(errno) : "");
    struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    r = fcntl(fd, F_GETLK, &q);
    printf("F_GETLK: %d type=%s pid=%d\n", r,
           q.l_type == F_WRLCK ? "WR" : q.l_type == F_RDLCK ? "RD" : "UN", (int)q.l_pid);
    errno = 0;
    r = flock(fd, LOCK_EX | LOCK_NB);
    printf("flock LOCK_NB: %d %s\n", r, r ? errname(errno) : "");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    errno = 0;
    r = lock(fd, F_SETLKW, F_WRLCK, 0, 1);
    printf("F_SETLKW: %d %s\n", r, r ? errname(errno) : "");
    alarm(1);
    errno = 0;
    r = flock(fd, LOCK_EX);
    printf("flock: %d %s\n", r, r ? errname(errno) : "");
    return 0;
}

static int wait_for(const char *path, int use_flock) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return 2;
    printf("waiting\n");
    if (take(fd, use_flock) != 0) { printf("lock: %s\n", errname(errno)); return 3; }
    printf("got it\n");
    return 0;
}

static int deadlock(const char *path) {
    int fd = open(path, O_RDWR);
    int ready[2], go[2];
    if (fd < 0 || pipe(ready) || pipe(go)) return 2;
    if (lock(fd, F_SETLK, F_WRLCK, 0, 1) != 0) return 3;
    pid_t child = fork();
    if (child == 0) {
        if (lock(fd, F_SETLK, F_WRLCK, 1, 1) != 0) _exit(3);
        write(ready[1], "x", 1);
        char c;
        read(go[0], &c, 1);
        usleep(100000); /* let the parent block first */
        errno = 0;
        int r = lock(fd, F_SETLKW, F_WRLCK, 0, 1);
        printf("child F_SETLKW: %d %s\n", r, r ? errname(errno) : "");
        _exit(0);
    }
    char c;
    read(ready[0], &c, 1);
    write(go[1], "g", 1);
    errno = 0;
    int r = lock(fd, F_SETLKW, F_WRLCK, 1, 1); /* waits for the child, which then deadlocks */
    int status;
    waitpid(child, &status, 0);
    printf("parent F_SETLKW: %d %s\n", r, r ? errname(errno) : "");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 6 && strcmp(argv[1], "count") == 0)
        return count(argv[2], atoi(argv[3]), strcmp(argv[4], "flock") == 0, argv[5]);
    if (argc == 4 && strcmp(argv[1], "hold") == 0) return hold(argv[2], strcmp(argv[3], "flock") == 0);
    if (argc == 3 && strcmp(argv[1], "probe") == 0) return probe(argv[2]);
    if (argc == 4 && strcmp(argv[1], "wait") == 0)
        return wait_for(argv[2], strcmp(argv[3], "flock") == 0);
    if (argc == 3 && strcmp(argv[1], "deadlock") == 0) return deadlock(argv[2]);
    fprintf(stderr, "usage: see the comment atop world_lock.c\n");
    return 2;
}
