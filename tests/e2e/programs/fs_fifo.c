/* FIFOs between processes: mkfifo, blocking opens that meet, data through, EOF, non-blocking
 * open rules (reader succeeds, writer without a reader gets ENXIO), O_RDWR, EINTR on open. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #x, errno); return 1; } } while (0)

static void on_alarm(int sig) { (void)sig; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    CHECK(mkfifo("chan", 0600) == 0);
    struct stat st;
    CHECK(stat("chan", &st) == 0 && S_ISFIFO(st.st_mode));
    printf("mkfifo: fifo=%d mode=%03o\n", S_ISFIFO(st.st_mode), (unsigned)(st.st_mode & 0777));

    /* writer child, reader parent: both opens block until the other side arrives */
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        usleep(50000);
        int w = open("chan", O_WRONLY);
        if (w < 0) _exit(2);
        for (int i = 0; i < 3; i++) {
            char line[32];
            int n = snprintf(line, sizeof line, "message %d\n", i);
            write(w, line, n);
        }
        char big[100000];
        memset(big, 'z', sizeof big);
        ssize_t total = 0;
        while (total < (ssize_t)sizeof big) {
            ssize_t n = write(w, big + total, sizeof big - total);
            if (n <= 0) _exit(3);
            total += n;
        }
        close(w);
        _exit(0);
    }
    int r = open("chan", O_RDONLY);
    CHECK(r >= 0);
    CHECK(fstat(r, &st) == 0);
    printf("opened for reading: fstat fifo=%d\n", S_ISFIFO(st.st_mode));
    char buf[4096];
    long total = 0, zs = 0;
    ssize_t n;
    char head[64] = {0};
    size_t headlen = 0;
    while ((n = read(r, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == 'z') zs++;
            else if (headlen < sizeof head - 1) head[headlen++] = buf[i];
        }
        total += n;
    }
    printf("read %ld bytes, %ld z, then EOF=%zd\nhead:\n%s", total, zs, n, head);
    close(r);
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status));
    printf("writer exit=%d\n", WEXITSTATUS(status));

    /* reader child, writer parent (the writer's open waits) */
    child = fork();
    if (child == 0) {
        usleep(50000);
        int rd = open("chan", O_RDONLY);
        char b[64];
        ssize_t got = read(rd, b, sizeof b);
        printf("child read [%.*s]\n", (int)got, b);
        _exit(got == 5 ? 0 : 1);
    }
    int w = open("chan", O_WRONLY);
    CHECK(w >= 0);
    CHECK(write(w, "hello", 5) == 5);
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status));
    printf("reader exit=%d\n", WEXITSTATUS(status));
    /* no reader left: the write fails with EPIPE (SIGPIPE ignored) */
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    n = write(w, "x", 1);
    printf("write without reader: %zd %s\n", n, errno == EPIPE ? "EPIPE" : strerror(errno));
    close(w);

    /* O_NONBLOCK rules */
    errno = 0;
    int fd = open("chan", O_WRONLY | O_NONBLOCK);
    printf("nonblocking writer without reader: %d %s\n", fd, errno == ENXIO ? "ENXIO" : strerror(errno));
    int nr = open("chan", O_RDONLY | O_NONBLOCK);
    printf("nonblocking reader opens: %d\n", nr >= 0);
    errno = 0;
    printf("read with no writer: %zd\n", read(nr, buf, sizeof buf));
    int nw = open("chan", O_WRONLY | O_NONBLOCK);
    printf("nonblocking writer with a reader opens: %d\n", nw >= 0);
    errno = 0;
    n = read(nr, buf, sizeof buf);
    printf("read empty with a writer: %zd %s\n", n, errno == EAGAIN ? "EAGAIN" : strerror(errno));
    CHECK(write(nw, "abc", 3) == 3);
    n = read(nr, buf, sizeof buf);
    printf("read: %zd [%.*s]\n", n, (int)n, buf);
    close(nw);
    close(nr);

    /* O_RDWR never waits and sees its own writes */
    int rw = open("chan", O_RDWR);
    CHECK(rw >= 0);
    CHECK(write(rw, "loop", 4) == 4);
    n = read(rw, buf, sizeof buf);
    printf("O_RDWR: %zd [%.*s]\n", n, (int)n, buf);
    close(rw);

    /* a blocking open with nobody coming is interrupted by a signal */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    errno = 0;
    fd = open("chan", O_RDONLY);
    printf("blocking open interrupted: %d %s\n", fd, errno == EINTR ? "EINTR" : strerror(errno));
    /* the buffer went with the last close: a new pair starts empty */
    nr = open("chan", O_RDONLY | O_NONBLOCK);
    nw = open("chan", O_WRONLY | O_NONBLOCK);
    errno = 0;
    n = read(nr, buf, sizeof buf);
    printf("fresh pair starts empty: %zd %s\n", n, errno == EAGAIN ? "EAGAIN" : strerror(errno));
    close(nr);
    close(nw);
    CHECK(unlink("chan") == 0);
    printf("done\n");
    return 0;
}
