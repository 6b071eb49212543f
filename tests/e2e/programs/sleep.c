/* nanosleep and clocks */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <errno.h>

static long long ms(struct timespec t) { return t.tv_sec * 1000LL + t.tv_nsec / 1000000; }

int main(int argc, char **argv) {
    long want = argc > 1 ? atol(argv[1]) : 120; /* milliseconds */
    struct timespec a, b, req = {want / 1000, want % 1000 * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (nanosleep(&req, NULL) != 0) { perror("nanosleep"); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long slept = ms(b) - ms(a);
    printf("slept enough: %d\n", slept >= want);
    printf("not too long: %d\n", slept < 2000);
    struct timespec bad = {0, 2000000000L};
    int rc = nanosleep(&bad, NULL);
    printf("bad nsec: %d %d\n", rc, errno == EINVAL);
    time_t now = time(NULL);
    printf("time sane: %d\n", now > 1700000000);
    return 0;
}
