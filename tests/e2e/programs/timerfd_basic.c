/* timerfd: one-shot and interval expirations, blocking read, gettime, disarm, poll, errors. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static uint64_t rd(int fd) {
    uint64_t v = 0;
    if (read(fd, &v, sizeof v) != sizeof v) return (uint64_t)-errno;
    return v;
}

int main(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    printf("create: %s\n", fd >= 0 ? "ok" : "fail");
    struct itimerspec cur;
    timerfd_gettime(fd, &cur);
    printf("disarmed: %lld %ld\n", (long long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

    /* one-shot, 50 ms: a blocking read returns 1 expiration */
    struct itimerspec one = {.it_value = {0, 50000000}};
    printf("settime: %d\n", timerfd_settime(fd, 0, &one, NULL));
    timerfd_gettime(fd, &cur);
    printf("armed: pending=%d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0);
    printf("one-shot: %llu\n", (unsigned long long)rd(fd));
    timerfd_gettime(fd, &cur);
    printf("after: %lld %ld\n", (long long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

    /* interval 20 ms: sleep ~110 ms, then at least 4 expirations are counted */
    struct itimerspec iv = {.it_value = {0, 20000000}, .it_interval = {0, 20000000}};
    struct itimerspec old;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    timerfd_settime(fd, 0, &iv, &old);
    usleep(110000);
    uint64_t n = rd(fd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("interval: >=4 %d, not more than elapsed %d\n", n >= 4, (long long)n <= elapsed_ms / 20 + 1);
    n = rd(fd);
    printf("next blocking read: %llu\n", (unsigned long long)n);
    timerfd_gettime(fd, &cur);
    printf("interval kept: %lld %ld\n", (long long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

    /* disarm; old value reports the interval */
    struct itimerspec zero = {0};
    timerfd_settime(fd, 0, &zero, &old);
    printf("old interval: %lld %ld\n", (long long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    printf("poll disarmed: %d\n", poll(&p, 1, 30));
    close(fd);

    /* absolute, nonblocking, poll wakes */
    fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    printf("nonblock empty: %lld\n", (long long)(int64_t)rd(fd));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct itimerspec ab = {.it_value = {now.tv_sec, now.tv_nsec}};
    ab.it_value.tv_nsec += 30000000;
    if (ab.it_value.tv_nsec >= 1000000000) { ab.it_value.tv_sec++; ab.it_value.tv_nsec -= 1000000000; }
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &ab, NULL);
    p.fd = fd;
    int r = poll(&p, 1, 2000);
    printf("poll abs: %d revents=0x%x\n", r, p.revents);
    printf("abs: %llu\n", (unsigned long long)rd(fd));
    /* already past: expires at once */
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &ab, NULL);
    r = poll(&p, 1, 2000);
    printf("past: %d %llu\n", r, (unsigned long long)rd(fd));
    char small[4];
    ssize_t sr = read(fd, small, 4);
    printf("short read: %zd errno=%d\n", sr, errno);
    close(fd);

    errno = 0;
    r = timerfd_create(12345, 0);
    printf("bad clock: %d errno=%d\n", r, errno);
    r = timerfd_create(CLOCK_MONOTONIC, 0x1);
    printf("bad flags: %d errno=%d\n", r, errno);
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec badv = {.it_value = {0, 1000000000}};
    r = timerfd_settime(t, 0, &badv, NULL);
    printf("bad nsec: %d errno=%d\n", r, errno);
    r = timerfd_settime(t, 0x10, &one, NULL);
    printf("bad settime flags: %d errno=%d\n", r, errno);
    r = timerfd_gettime(0, &cur);
    printf("gettime not timerfd: %d errno=%d\n", r, errno);
    return 0;
}
