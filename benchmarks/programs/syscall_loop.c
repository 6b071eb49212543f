/* Syscall round trips: `syscall_loop getpid|write N` prints the mean ns per call. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s getpid|write N\n", argv[0]); return 2; }
    long n = atol(argv[2]);
    long sink = 0;
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) { perror("/dev/null"); return 1; }
    int use_write = strcmp(argv[1], "write") == 0;
    /* One untimed call first: the steady state is measured, not the first call's setup. */
    sink += use_write ? write(fd, "x", 1) : syscall(SYS_getpid);
    double start = now_ns();
    if (use_write) {
        for (long i = 0; i < n; i++) sink += write(fd, "x", 1);
    } else {
        for (long i = 0; i < n; i++) sink += syscall(SYS_getpid);
    }
    double elapsed = now_ns() - start;
    printf("%.1f\n", elapsed / n);
    return sink == 0 ? 1 : 0;
}
