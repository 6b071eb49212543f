/* pipes within one process: order, EOF, O_NONBLOCK/EAGAIN, SIGPIPE/EPIPE, dup2, pipe size */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got_pipe = 0;
static void on_pipe(int sig) { got_pipe = sig; }

int main(void) {
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); return 1; }
    ssize_t n = write(p[1], "hello pipe", 10);
    printf("write=%zd\n", n);
    char buf[64] = {0};
    n = read(p[0], buf, sizeof buf);
    printf("read=%zd [%s]\n", n, buf);
    printf("pipe size=%d\n", fcntl(p[0], F_GETPIPE_SZ));

    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    errno = 0;
    n = read(p[0], buf, 1);
    printf("empty nonblocking read=%zd EAGAIN=%d\n", n, errno == EAGAIN);

    int q[2];
    pipe2(q, O_NONBLOCK | O_CLOEXEC);
    printf("cloexec=%d nonblock=%d\n", (fcntl(q[1], F_GETFD) & FD_CLOEXEC) != 0,
           (fcntl(q[1], F_GETFL) & O_NONBLOCK) != 0);
    static char big[100000];
    memset(big, 'x', sizeof big);
    ssize_t filled = 0;
    while ((n = write(q[1], big, sizeof big)) > 0) filled += n;
    printf("filled=%zd then EAGAIN=%d\n", filled, errno == EAGAIN);
    errno = 0;
    n = write(q[1], "y", 1);
    printf("small write to full pipe=%zd EAGAIN=%d\n", n, errno == EAGAIN);

    int d = dup(p[1]);
    close(p[1]);
    write(d, "via dup", 7);
    close(d);
    memset(buf, 0, sizeof buf);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) & ~O_NONBLOCK);
    n = read(p[0], buf, sizeof buf);
    printf("read via dup=%zd [%s]\n", n, buf);
    n = read(p[0], buf, sizeof buf);
    printf("eof read=%zd\n", n);

    int r[2];
    pipe(r);
    fflush(stdout);
    int saved = dup(1);
    dup2(r[1], 1);
    printf("into the pipe\n");
    fflush(stdout);
    dup2(saved, 1);
    memset(buf, 0, sizeof buf);
    read(r[0], buf, sizeof buf);
    printf("stdout redirected: %s", buf);

    signal(SIGPIPE, on_pipe);
    close(r[0]);
    errno = 0;
    ssize_t w = write(r[1], "lost", 4);
    printf("broken write=%zd EPIPE=%d SIGPIPE=%d\n", w, errno == EPIPE, got_pipe == SIGPIPE);
    int rc = dup3(r[1], r[1], 0);
    printf("dup3 same fd=%d EINVAL=%d\n", rc, errno == EINVAL);
    rc = dup2(99, 5);
    printf("dup2 bad=%d EBADF=%d\n", rc, errno == EBADF);
    return 0;
}
