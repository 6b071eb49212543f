/* Calls a grate interposes on: `grate_loop geteuid N [cpu]` or `grate_loop read SIZE N PATH [cpu]`
 * prints the mean ns per call (wall time; with `cpu`, the CPU time of the thread that runs the
 * cage, CLOCK_THREAD_CPUTIME_ID: in a cage, the microvisor's loop thread, which other load on a
 * shared machine disturbs far less).
 *
 * read: creates PATH with 256 KiB of data through whatever serves PATH (RawPOSIX, imfs, a
 * Python memfs; its directory is created if missing), then times N reads of SIZE bytes,
 * rewinding with lseek at end of file (one lseek per 256 KiB / SIZE reads, in the time). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define FILE_SIZE (256 * 1024)

static clockid_t clock_id = CLOCK_MONOTONIC;

static double now_ns(void) {
    struct timespec t;
    clock_gettime(clock_id, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int make_file(const char *path) {
    static char chunk[4096];
    char dir[4096];
    memset(chunk, 'x', sizeof chunk);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) { *slash = 0; mkdir(dir, 0755); } /* an in-memory fs starts empty */
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) { perror(path); return -1; }
    for (int i = 0; i < FILE_SIZE / (int)sizeof chunk; i++)
        if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) { perror("write"); return -1; }
    close(fd);
    return open(path, O_RDONLY);
}

int main(int argc, char **argv) {
    long sink = 0;
    double start, elapsed;
    long n;
    if ((argc == 3 || (argc == 4 && strcmp(argv[3], "cpu") == 0))
        && strcmp(argv[1], "geteuid") == 0) {
        if (argc == 4) clock_id = CLOCK_THREAD_CPUTIME_ID;
        n = atol(argv[2]);
        sink += geteuid() + 1;  /* one untimed call first: the steady state is measured */
        start = now_ns();
        for (long i = 0; i < n; i++) sink += geteuid() + 1;
        elapsed = now_ns() - start;
    } else if ((argc == 5 || (argc == 6 && strcmp(argv[5], "cpu") == 0))
               && strcmp(argv[1], "read") == 0) {
        if (argc == 6) clock_id = CLOCK_THREAD_CPUTIME_ID;
        static char buf[FILE_SIZE];
        size_t size = (size_t)atol(argv[2]);
        n = atol(argv[3]);
        if (size == 0 || size > FILE_SIZE || FILE_SIZE % size) { fprintf(stderr, "bad size\n"); return 2; }
        int fd = make_file(argv[4]);
        if (fd < 0) return 1;
        if (read(fd, buf, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
            perror("read");  /* one untimed read first: the steady state is measured */
            return 1;
        }
        start = now_ns();
        for (long i = 0; i < n; i++) {
            ssize_t got = read(fd, buf, size);
            if (got == 0) { lseek(fd, 0, SEEK_SET); got = read(fd, buf, size); }
            if (got != (ssize_t)size) { perror("read"); return 1; }
            sink += got;
        }
        elapsed = now_ns() - start;
        close(fd);
        unlink(argv[4]);
    } else {
        fprintf(stderr, "usage: %s geteuid N [cpu] | read SIZE N PATH [cpu]\n", argv[0]);
        return 2;
    }
    printf("%.1f\n", elapsed / n);
    return sink == 0 ? 1 : 0;
}
