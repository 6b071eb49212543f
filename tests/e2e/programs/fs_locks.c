/* flock and fcntl record locks between a parent and a forked child: contention, non-blocking
 * attempts, blocking until release, F_GETLK reports, release on close and on exit, EINTR. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #x, errno); return 1; } } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int lock_range(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

static int flock_test(void) {
    printf("-- flock\n");
    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        int fd = open("lockfile", O_RDWR);
        if (flock(fd, LOCK_EX) != 0) _exit(2);
        write(ready[1], "x", 1);
        char c;
        read(go[0], &c, 1);
        usleep(100000);          /* hold it a little after telling the parent to wait */
        flock(fd, LOCK_UN);
        _exit(0);
    }
    int fd = open("lockfile", O_RDWR);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    errno = 0;
    int r = flock(fd, LOCK_EX | LOCK_NB);
    printf("parent LOCK_EX|LOCK_NB while child holds: %d %s\n", r, errno == EWOULDBLOCK ? "EWOULDBLOCK" : strerror(errno));
    r = flock(fd, LOCK_SH | LOCK_NB);
    printf("parent LOCK_SH|LOCK_NB while child holds: %d %s\n", r, errno == EWOULDBLOCK ? "EWOULDBLOCK" : strerror(errno));
    CHECK(write(go[1], "g", 1) == 1);
    double t0 = now();
    CHECK(flock(fd, LOCK_EX) == 0);
    printf("parent LOCK_EX got it after the child released: waited=%d\n", now() - t0 > 0.05);
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the same description (dup) shares the lock; another open conflicts */
    int dupfd = dup(fd);
    CHECK(flock(dupfd, LOCK_EX | LOCK_NB) == 0);
    int other = open("lockfile", O_RDWR);
    errno = 0;
    r = flock(other, LOCK_SH | LOCK_NB);
    printf("second open of the file: %d %s\n", r, errno == EWOULDBLOCK ? "EWOULDBLOCK" : strerror(errno));
    close(fd);
    r = flock(other, LOCK_SH | LOCK_NB);
    printf("still held through the dup: %d\n", r);
    close(dupfd); /* last descriptor of the description: the lock goes */
    printf("after last close: %d\n", flock(other, LOCK_SH | LOCK_NB));
    CHECK(flock(other, LOCK_UN) == 0);
    errno = 0;
    r = flock(other, 99);
    printf("LOCK_MAND operation (ignored): %d\n", r);
    errno = 0;
    r = flock(other, LOCK_SH | LOCK_EX);
    printf("bad operation: %d %s\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
    close(other);
    /* a lock taken before fork is shared with the child (same description) */
    fd = open("lockfile", O_RDWR);
    CHECK(flock(fd, LOCK_EX) == 0);
    child = fork();
    if (child == 0) {
        _exit(flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
    }
    CHECK(waitpid(child, &status, 0) == child);
    printf("child re-locks the inherited description: %d\n", WEXITSTATUS(status));
    close(fd);
    close(ready[0]); close(ready[1]); close(go[0]); close(go[1]);
    return 0;
}

static void on_alarm(int sig) { (void)sig; }

static int fcntl_test(void) {
    printf("-- fcntl record locks\n");
    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    pid_t parent = getpid();
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        int fd = open("lockfile", O_RDWR);
        if (lock_range(fd, F_SETLK, F_WRLCK, 0, 10) != 0) _exit(2);
        if (lock_range(fd, F_SETLK, F_RDLCK, 20, 0) != 0) _exit(3);
        write(ready[1], "x", 1);
        char c;
        read(go[0], &c, 1);
        usleep(100000);
        /* closing ANY descriptor of the file drops this process's locks */
        int again = open("lockfile", O_RDONLY);
        close(again);
        read(go[0], &c, 1);
        _exit(0);
    }
    (void)parent;
    int fd = open("lockfile", O_RDWR);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
    CHECK(fcntl(fd, F_GETLK, &fl) == 0);
    printf("F_GETLK [5]: type=%s start=%lld len=%lld pid_is_child=%d\n",
           fl.l_type == F_WRLCK ? "WR" : fl.l_type == F_RDLCK ? "RD" : "UN", (long long)fl.l_start,
           (long long)fl.l_len, fl.l_pid == child);
    struct flock fl2 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10};
    CHECK(fcntl(fd, F_GETLK, &fl2) == 0);
    printf("F_GETLK [10,20): type=%s\n", fl2.l_type == F_UNLCK ? "UN" : "locked");
    struct flock fl3 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 1};
    CHECK(fcntl(fd, F_GETLK, &fl3) == 0);
    printf("F_GETLK [100]: type=%s start=%lld len=%lld\n", fl3.l_type == F_RDLCK ? "RD" : "other",
           (long long)fl3.l_start, (long long)fl3.l_len);
    errno = 0;
    int r = lock_range(fd, F_SETLK, F_WRLCK, 9, 2);
    printf("F_SETLK overlapping: %d %s\n", r, errno == EAGAIN || errno == EACCES ? "EAGAIN/EACCES" : strerror(errno));
    printf("F_SETLK read lock on the read-locked tail: %d\n", lock_range(fd, F_SETLK, F_RDLCK, 50, 5));
    printf("F_SETLK write lock on a free range: %d\n", lock_range(fd, F_SETLK, F_WRLCK, 12, 3));
    /* F_SETLKW interrupted by a signal */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    errno = 0;
    r = lock_range(fd, F_SETLKW, F_WRLCK, 0, 1);
    printf("F_SETLKW interrupted: %d %s\n", r, errno == EINTR ? "EINTR" : strerror(errno));
    CHECK(write(go[1], "g", 1) == 1);
    double t0 = now();
    CHECK(lock_range(fd, F_SETLKW, F_WRLCK, 0, 10) == 0);
    printf("F_SETLKW got it after the child closed an fd: waited=%d\n", now() - t0 > 0.05);
    CHECK(write(go[1], "g", 1) == 1);
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the child's locks went with it */
    CHECK(lock_range(fd, F_SETLK, F_WRLCK, 0, 0) == 0);
    printf("whole file write-locked after the child exited\n");
    /* a child sees the parent's lock, then gets it when the parent exits... the parent is us:
       instead the child blocks until we unlock */
    child = fork();
    if (child == 0) {
        int cfd = open("lockfile", O_RDWR);
        struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        fcntl(cfd, F_GETLK, &q);
        int saw = q.l_type == F_WRLCK && q.l_pid == getppid();
        int got = lock_range(cfd, F_SETLKW, F_RDLCK, 0, 0) == 0;
        _exit(saw * 2 + got);
    }
    usleep(100000);
    CHECK(lock_range(fd, F_SETLK, F_UNLCK, 0, 0) == 0);
    CHECK(waitpid(child, &status, 0) == child);
    printf("child saw our lock and got its own after unlock: %d\n", WEXITSTATUS(status));
    int ro = open("lockfile", O_RDONLY);
    errno = 0;
    r = lock_range(ro, F_SETLK, F_WRLCK, 0, 1);
    printf("write lock on a read-only fd: %d %s\n", r, errno == EBADF ? "EBADF" : strerror(errno));
    errno = 0;
    r = lock_range(fd, F_SETLK, 7, 0, 1);
    printf("bad lock type: %d %s\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
    close(ro);
    close(fd);
    return 0;
}

static int ofd_test(void) {
    printf("-- OFD locks\n");
    int a = open("lockfile", O_RDWR), b = open("lockfile", O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    CHECK(fcntl(a, F_OFD_SETLK, &fl) == 0);
    errno = 0;
    int r = fcntl(b, F_OFD_SETLK, &fl);
    printf("second description conflicts: %d %s\n", r, errno == EAGAIN ? "EAGAIN" : strerror(errno));
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    CHECK(fcntl(b, F_OFD_GETLK, &q) == 0);
    printf("F_OFD_GETLK pid=%d type=%s\n", q.l_pid, q.l_type == F_WRLCK ? "WR" : "?");
    close(a);
    printf("after close: %d\n", fcntl(b, F_OFD_SETLK, &fl));
    close(b);
    return 0;
}

/* A child locks through one fd, then drops its locks by a dup2 over another fd of the file (and
 * a second child by exec'ing with a close-on-exec fd of it): the parent can lock at once. */
static int dup2_test(void) {
    printf("-- dup2 over a descriptor drops record locks\n");
    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        int fd = open("lockfile", O_RDWR);
        int other = open("lockfile", O_RDONLY);
        if (lock_range(fd, F_SETLK, F_WRLCK, 0, 10) != 0) _exit(2);
        write(ready[1], "x", 1);
        char c;
        read(go[0], &c, 1);
        dup2(ready[1], other); /* closes `other`, a descriptor of the locked file */
        write(ready[1], "y", 1);
        read(go[0], &c, 1);
        _exit(0);
    }
    int fd = open("lockfile", O_RDWR);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    printf("locked by the child: %d\n", lock_range(fd, F_SETLK, F_WRLCK, 0, 1) != 0);
    CHECK(write(go[1], "g", 1) == 1);
    CHECK(read(ready[0], &c, 1) == 1);
    printf("after the child's dup2: %d\n", lock_range(fd, F_SETLK, F_WRLCK, 0, 1));
    CHECK(write(go[1], "g", 1) == 1);
    int status;
    waitpid(child, &status, 0);
    close(fd);
    close(ready[0]); close(ready[1]); close(go[0]); close(go[1]);
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open("lockfile", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "0123456789abcdefghij", 20) == 20);
    close(fd);
    if (flock_test() || fcntl_test() || ofd_test() || dup2_test()) return 1;
    printf("done\n");
    return 0;
}
