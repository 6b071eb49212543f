/* Signal-driven I/O on host-fd sockets signals on new input, as Linux does, not again for input
 * left unread: a TCP listener and an accepted connection on 127.0.0.1 with O_ASYNC and F_SETSIG
 * (so the handler sees si_code and si_fd); after each step the program waits 300 ms and prints
 * how many signals came. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t count, last_code, last_fd;

static void on_io(int sig, siginfo_t *info, void *ctx) {
    (void)sig;
    (void)ctx;
    count++;
    last_code = info->si_code;
    last_fd = info->si_fd;
}

static void pause_ms(long ms) {  /* the whole time, whatever signals come */
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += ms / 1000;
    end.tv_nsec += (ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = (end.tv_sec - now.tv_sec) * 1000000000L + (end.tv_nsec - now.tv_nsec);
        if (left <= 0) return;
        struct timespec d = {left / 1000000000L, left % 1000000000L};
        nanosleep(&d, NULL);
    }
}

static int set_async(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETOWN, getpid()) < 0 || fcntl(fd, F_SETSIG, SIGIO) < 0) return -1;
    return fcntl(fd, F_SETFL, on ? fl | O_ASYNC : fl & ~O_ASYNC);
}

static void report(const char *step, int fd) {
    pause_ms(300);
    printf("%s: signals=%d", step, (int)count);
    if (count) printf(" code=%s fd=%s", last_code == POLL_IN ? "POLL_IN" : "other",
                      last_fd == fd ? "same" : "other");
    printf("\n");
    fflush(stdout);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_io;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGIO, &sa, NULL);

    int lst = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (lst < 0 || bind(lst, (struct sockaddr *)&a, sizeof a) < 0 || listen(lst, 4) < 0 ||
        getsockname(lst, (struct sockaddr *)&a, &alen) < 0 || set_async(lst, 1) < 0) {
        perror("listener");
        return 1;
    }
    report("listener armed", lst);
    int cli = socket(AF_INET, SOCK_STREAM, 0);
    if (cli < 0 || connect(cli, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        return 1;
    }
    report("connection waiting", lst);   /* one, however long it waits */
    int srv = accept(lst, NULL, NULL);
    if (srv < 0 || set_async(lst, 0) < 0) {
        perror("accept");
        return 1;
    }
    count = 0;
    if (set_async(srv, 1) < 0) {
        perror("fcntl");
        return 1;
    }
    report("connection armed", srv);
    if (write(cli, "a", 1) != 1) return 1;
    report("first write, unread", srv);  /* one: the data stays unread, no more signals */
    if (write(cli, "b", 1) != 1) return 1;
    report("second write, unread", srv); /* a new arrival: two */
    char buf[8];
    ssize_t n = read(srv, buf, sizeof buf);
    printf("read %zd\n", n);
    report("after the read", srv);       /* reading is not an input event */
    if (write(cli, "c", 1) != 1) return 1;
    report("third write", srv);
    if (set_async(srv, 0) < 0) return 1;
    if (write(cli, "d", 1) != 1) return 1;
    report("O_ASYNC off", srv);
    close(cli);
    close(srv);
    close(lst);
    return 0;
}
