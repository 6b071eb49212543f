/* select/pselect: timeouts (nothing ready: 0 after about the timeout), readiness of pipes and
 * files, results written back, EBADF/EINVAL. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static long long ms_since(struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000LL + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(void) {
    int p[2];
    pipe(p);
    fd_set r, w;
    struct timespec t0;

    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = {0, 150000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n = select(p[0] + 1, &r, NULL, NULL, &tv);
    long long ms = ms_since(&t0);
    printf("timeout: %d set=%d waited=%d\n", n, FD_ISSET(p[0], &r), ms >= 140 && ms < 2000);

    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timespec ts = {0, 100000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    n = pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL);
    ms = ms_since(&t0);
    printf("pselect timeout: %d waited=%d\n", n, ms >= 90 && ms < 2000);

    write(p[1], "x", 1);
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(p[0], &r);
    FD_SET(p[1], &r);
    FD_SET(p[0], &w);
    FD_SET(p[1], &w);
    n = select(p[1] + 1, &r, &w, NULL, NULL);
    printf("ready: %d r0=%d r1=%d w0=%d w1=%d\n", n, FD_ISSET(p[0], &r), FD_ISSET(p[1], &r),
           FD_ISSET(p[0], &w), FD_ISSET(p[1], &w));

    int f = open("plain", O_CREAT | O_RDWR, 0600);
    fd_set e;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&e);
    FD_SET(f, &r);
    FD_SET(f, &w);
    FD_SET(f, &e);
    tv = (struct timeval){0, 0};
    n = select(f + 1, &r, &w, &e, &tv);
    printf("file: %d r=%d w=%d e=%d\n", n, FD_ISSET(f, &r), FD_ISSET(f, &w), FD_ISSET(f, &e));
    close(f);

    /* hang-up reads as readable */
    close(p[1]);
    char buf[4];
    read(p[0], buf, sizeof buf);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    n = select(p[0] + 1, &r, NULL, NULL, NULL);
    printf("eof: %d set=%d\n", n, FD_ISSET(p[0], &r));

    FD_ZERO(&r);
    FD_SET(p[1], &r);
    n = select(p[1] + 1, &r, NULL, NULL, NULL);
    printf("closed fd: %d errno=%d\n", n, errno);
    n = select(-1, NULL, NULL, NULL, NULL);
    printf("negative nfds: %d errno=%d\n", n, errno);
    tv = (struct timeval){0, 20000};
    n = select(0, NULL, NULL, NULL, &tv);
    printf("sleep: %d\n", n);
    return 0;
}
