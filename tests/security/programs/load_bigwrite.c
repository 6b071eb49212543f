/* One big blocking write must go out whole (Linux: a write to a pipe or a stream socket waits
 * for room until every byte is in, unless a signal interrupts it: then the partial count).
 *
 *   load_bigwrite stdout N      write(1, N bytes) once; report the result on stderr
 *   load_bigwrite pipe N        write N bytes into a pipe a slow child drains
 *   load_bigwrite socketpair N  the same over an AF_UNIX stream socketpair
 *   load_bigwrite tcp PORT N    write N bytes to 127.0.0.1:PORT (a slow reader on the host)
 *   load_bigwrite interrupt N   write N bytes into a pipe nobody reads; SIGALRM (no SA_RESTART)
 *                               interrupts it after the pipe is full: the partial count
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *pattern(size_t n) {
    char *buf = malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + i % 26);
    return buf;
}

static void nap(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int drain_slowly(int fd, size_t want) {
    static char chunk[4096];
    size_t got = 0, bad = 0;
    nap(100);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++)
            if (chunk[i] != (char)('a' + (got + i) % 26)) bad++;
        got += n;
        if (got % (256 * 1024) < 4096) nap(20); /* a slow reader */
    }
    printf("child read %zu bytes, %zu wrong\n", got, bad);
    return got == want && bad == 0 ? 0 : 1;
}

static int through(int wr, int rd, size_t n) {
    char *buf = pattern(n);
    pid_t pid = fork();
    if (pid == 0) {
        close(wr);
        _exit(drain_slowly(rd, n));
    }
    close(rd);
    ssize_t w = write(wr, buf, n);
    printf("parent wrote %zd of %zu\n", w, n);
    fflush(stdout);
    close(wr);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void on_alarm(int sig) { (void)sig; }

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *mode = argv[1];
    size_t n = strtoul(argv[argc - 1], NULL, 10);
    if (!strcmp(mode, "stdout")) {
        char *buf = pattern(n);
        ssize_t w = write(1, buf, n);
        fprintf(stderr, "wrote %zd of %zu\n", w, n);
        return w == (ssize_t)n ? 0 : 1;
    }
    if (!strcmp(mode, "pipe") || !strcmp(mode, "socketpair")) {
        int fds[2];
        if (mode[0] == 'p' ? pipe(fds) : socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) return 3;
        setvbuf(stdout, NULL, _IONBF, 0);
        return through(fds[1], fds[0], n);
    }
    if (!strcmp(mode, "tcp")) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(s, (struct sockaddr *)&sa, sizeof sa)) return 3;
        char *buf = pattern(n);
        ssize_t w = write(s, buf, n);
        printf("wrote %zd of %zu\n", w, n);
        close(s);
        return w == (ssize_t)n ? 0 : 1;
    }
    if (!strcmp(mode, "interrupt")) {
        int fds[2];
        if (pipe(fds)) return 3;
        struct sigaction sa = {.sa_handler = on_alarm};
        sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART */
        alarm(1);
        char *buf = pattern(n);
        ssize_t w = write(fds[1], buf, n);
        printf("write returned %zd (%s)\n", w, w < 0 ? strerror(errno) : "partial count");
        /* a second write into the full pipe: EINTR once nothing went in */
        alarm(1);
        w = write(fds[1], buf, n);
        printf("then %zd (%s)\n", w, w < 0 ? strerror(errno) : "count");
        return 0;
    }
    return 2;
}
