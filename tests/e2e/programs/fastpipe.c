/* read, write, writev and tty ioctls on pipes at the edges of the C trampoline's pipe path
 * (native/syscall_pipes.c): partial reads, end-of-file, empty buffers, {NULL, 0} and bad
 * buffers, more iovecs than it takes, a full pipe, no reader left, the wrong end, a reader
 * waiting in another process and one polling; and set_tid_address (native/syscall_tid.c).
 * Prints only what native Linux prints too. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long n) {
    printf("%s: %ld errno=%d\n", what, n, n < 0 ? errno : 0);
    errno = 0;
}

static int cleared = 1;

int main(void) {
    int p[2];
    char buf[256];
    long tid = syscall(SYS_set_tid_address, &cleared);
    printf("set_tid_address is the pid: %d\n", tid == (long)getpid());
    if (pipe(p) != 0) return 1;
    report("write", write(p[1], "hello", 5));
    memset(buf, 0, sizeof buf);
    report("read 3", read(p[0], buf, 3));
    printf("  [%s]\n", buf);
    report("read 0", read(p[0], buf, 0));
    memset(buf, 0, sizeof buf);
    report("read rest", read(p[0], buf, sizeof buf));
    printf("  [%s]\n", buf);
    report("write 0", write(p[1], buf, 0));

    struct iovec iov[3] = {{"ab", 2}, {NULL, 0}, {"cde", 3}};
    report("writev null middle", writev(p[1], iov, 3));
    struct iovec empty[2] = {{NULL, 0}, {buf, 0}};
    report("writev nothing", writev(p[1], empty, 2));
    report("writev none", writev(p[1], iov, 0));
    report("writev negative count", writev(p[1], iov, -1));
    struct iovec bad[1] = {{(void *)8, 4}};
    report("writev bad buffer", writev(p[1], bad, 1));
    report("writev bad array", writev(p[1], (struct iovec *)8, 2));
    report("write bad buffer", write(p[1], (void *)8, 4));
    struct iovec many[20];
    for (int i = 0; i < 20; i++) {
        many[i].iov_base = (char *)"0123456789abcdefghij" + i;
        many[i].iov_len = 1;
    }
    report("writev 20", writev(p[1], many, 20));
    memset(buf, 0, sizeof buf);
    report("read all", read(p[0], buf, sizeof buf));
    printf("  [%s]\n", buf);
    report("write one", write(p[1], "q", 1));
    report("read bad buffer", read(p[0], (void *)8, 4));
    memset(buf, 0, sizeof buf);
    report("read it still", read(p[0], buf, sizeof buf));
    printf("  [%s]\n", buf);

    report("read write end", read(p[1], buf, 1));
    report("write read end", write(p[0], "x", 1));
    report("writev read end", writev(p[0], iov, 1));

    struct winsize ws;
    report("TIOCGWINSZ", ioctl(p[1], TIOCGWINSZ, &ws));
    report("TIOCGWINSZ read end", ioctl(p[0], TIOCGWINSZ, &ws));
    int tty = isatty(p[1]);
    printf("isatty: %d errno=%d\n", tty, errno);
    errno = 0;

    /* full: 4 KiB writes until EAGAIN (64 KiB on both) */
    int q[2];
    if (pipe2(q, O_NONBLOCK) != 0) return 1;
    static char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    long filled = 0, n;
    while ((n = write(q[1], chunk, sizeof chunk)) > 0) filled += n;
    printf("filled %ld then errno=%d\n", filled, errno);
    errno = 0;
    struct iovec two[2] = {{chunk, 1}, {chunk, 1}};
    report("writev full", writev(q[1], two, 2));
    report("read 4096 of full", read(q[0], chunk, sizeof chunk));
    report("writev after room", writev(q[1], two, 2));
    close(q[0]);
    signal(SIGPIPE, SIG_IGN);
    report("write no reader", write(q[1], "x", 1));
    report("writev no reader", writev(q[1], two, 2));
    close(q[1]);

    close(p[1]);
    report("read at end-of-file", read(p[0], buf, sizeof buf));
    close(p[0]);

    /* a reader waiting in a child, then one polling */
    int r[2];
    if (pipe(r) != 0) return 1;
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        close(r[1]);
        char got[64] = {0};
        long total = 0;
        while ((n = read(r[0], got + total, sizeof got - 1 - total)) > 0) total += n;
        printf("child read %ld [%s]\n", total, got);
        struct pollfd pfd = {r[0], POLLIN, 0};
        int ready = poll(&pfd, 1, 1000);
        printf("child poll at end: %d revents=%d\n", ready, pfd.revents & POLLHUP);
        return 0;
    }
    close(r[0]);
    usleep(20000);
    struct iovec parts[2] = {{"wa", 2}, {"ke", 2}};
    report("writev to a waiting reader", writev(r[1], parts, 2));
    usleep(20000);
    report("write to a waiting reader", write(r[1], "up", 2));
    close(r[1]);
    int status;
    waitpid(child, &status, 0);
    printf("child status %d\n", WEXITSTATUS(status));

    int s[2];
    if (pipe(s) != 0) return 1;
    fflush(stdout);
    child = fork();
    if (child == 0) {
        close(s[0]);
        usleep(20000);
        writev(s[1], parts, 2);
        return 0;
    }
    close(s[1]);
    struct pollfd pfd = {s[0], POLLIN, 0};
    int ready = poll(&pfd, 1, 5000);
    printf("poll: %d revents=%d\n", ready, pfd.revents & POLLIN);
    memset(buf, 0, sizeof buf);
    report("read after poll", read(s[0], buf, sizeof buf));
    printf("  [%s]\n", buf);
    waitpid(child, &status, 0);
    return 0;
}
