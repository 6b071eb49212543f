/* preadv/pwritev/preadv2/pwritev2: counts with several iovecs, short files, offsets (also past
 * 4 GiB), empty vectors, the file position (offset -1), RWF_* flags, O_APPEND, pipes. Every call
 * is its own statement (argument evaluation order differs between compilers). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define CALL(label, expr)                                                                  \
    do {                                                                                   \
        errno = 0;                                                                         \
        long long r_ = (expr);                                                             \
        int e_ = errno;                                                                    \
        printf("%-28s %lld errno %d\n", label, r_, r_ < 0 ? e_ : 0);                       \
    } while (0)

static long long pos(int fd) { return (long long)lseek(fd, 0, SEEK_CUR); }
static long long size(int fd) {
    struct stat st;
    return fstat(fd, &st) ? -1 : (long long)st.st_size;
}
static void show(const char *label, const char *buf, int n) {
    printf("%s '", label);
    for (int i = 0; i < n; i++) putchar(buf[i] ? buf[i] : '.');
    printf("'\n");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char a[4] = "abcd", b[3] = "efg", c[5] = "hijkl";
    struct iovec w[4] = {{a, 4}, {NULL, 0}, {b, 3}, {c, 5}};
    CALL("pwritev 3+empty at 2", pwritev(fd, w, 4, 2));
    CALL("size", size(fd));
    CALL("position unchanged", pos(fd));

    char x[3], y[4], z[20];
    struct iovec r[3] = {{x, 3}, {y, 4}, {z, 20}};
    memset(z, 0, sizeof z);
    CALL("preadv at 1 (short file)", preadv(fd, r, 3, 1));
    show("x", x, 3);
    show("y", y, 4);
    show("z", z, 6);
    CALL("preadv at 13", preadv(fd, r, 3, 13));
    CALL("preadv at end", preadv(fd, r, 3, 14));
    CALL("preadv past end", preadv(fd, r, 3, 1000));
    CALL("preadv no vectors", preadv(fd, r, 0, 0));
    CALL("preadv -1", preadv(fd, r, 3, -1));
    CALL("pwritev -5", pwritev(fd, w, 2, -5));
    CALL("preadv iovcnt -1", preadv(fd, r, -1, 0));
    CALL("position still", pos(fd));

    /* exactly filling the first vectors, then a short one */
    struct iovec r2[2] = {{x, 3}, {y, 4}};
    CALL("preadv 7 bytes at 7", preadv(fd, r2, 2, 7));
    show("x", x, 3);
    show("y", y, 4);

    /* offsets past 4 GiB travel in two slots on wasm32 */
    long long big = (5LL << 30) + 3;
    CALL("pwritev at 5G+3", pwritev(fd, w, 1, big));
    CALL("size", size(fd));
    memset(z, 0, sizeof z);
    struct iovec r3[1] = {{z, 20}};
    CALL("preadv at 5G+1", preadv(fd, r3, 1, big - 2));
    show("z", z, 6);
    CALL("ftruncate", ftruncate(fd, 14));

    /* preadv2/pwritev2: -1 is the file position (and advances it) */
    CALL("lseek 3", lseek(fd, 3, SEEK_SET));
    CALL("preadv2 -1", preadv2(fd, r2, 2, -1, 0));
    CALL("position", pos(fd));
    CALL("preadv2 at 0", preadv2(fd, r2, 2, 0, 0));
    CALL("position", pos(fd));
    CALL("pwritev2 -1", pwritev2(fd, w, 1, -1, 0));
    CALL("position", pos(fd));
    CALL("preadv2 -2", preadv2(fd, r2, 2, -2, 0));
    CALL("preadv2 bad flag", preadv2(fd, r2, 2, 0, 0x40000000));
    CALL("pwritev2 bad flag", pwritev2(fd, w, 1, 0, 0x40000000));
    CALL("preadv2 RWF_HIPRI", preadv2(fd, r2, 2, 0, RWF_HIPRI));
    CALL("pwritev2 RWF_DSYNC", pwritev2(fd, w, 1, 0, RWF_DSYNC));
    CALL("pwritev2 RWF_SYNC", pwritev2(fd, w, 1, 0, RWF_SYNC));
    CALL("pwritev2 RWF_APPEND at 0", pwritev2(fd, w, 1, 0, RWF_APPEND));
    CALL("size", size(fd));
    CALL("position", pos(fd));
    CALL("pwritev2 RWF_APPEND -1", pwritev2(fd, w, 1, -1, RWF_APPEND));
    CALL("position", pos(fd));
    CALL("size", size(fd));

    /* O_APPEND: pwritev appends on Linux whatever the offset */
    int ap = open("f", O_WRONLY | O_APPEND);
    CALL("pwritev O_APPEND at 0", pwritev(ap, w, 2, 0));
    CALL("size", size(fd));
    CALL("preadv on O_WRONLY", preadv(ap, r2, 2, 0));
    CALL("pwritev on O_RDONLY", pwritev(open("f", O_RDONLY), w, 1, 0));
    char all[64] = {0};
    CALL("pread all", pread(fd, all, sizeof all, 0));
    show("file", all, (int)size(fd));

    /* pipes: no offsets, but preadv2/pwritev2 at -1 work as readv/writev */
    int p[2];
    pipe(p);
    CALL("pwritev pipe", pwritev(p[1], w, 1, 0));
    CALL("preadv pipe", preadv(p[0], r2, 2, 0));
    CALL("preadv pipe no vectors", preadv(p[0], r2, 0, 0));
    CALL("pwritev2 pipe -1", pwritev2(p[1], w, 4, -1, 0));
    CALL("preadv2 pipe -1 NOWAIT", preadv2(p[0], r2, 2, -1, RWF_NOWAIT));
    show("x", x, 3);
    show("y", y, 4);
    CALL("preadv2 pipe rest", preadv2(p[0], r3, 1, -1, RWF_NOWAIT));
    CALL("preadv2 empty NOWAIT", preadv2(p[0], r3, 1, -1, RWF_NOWAIT));
    CALL("preadv2 pipe at 0", preadv2(p[0], r3, 1, 0, 0));

    /* readv on a non-blocking pipe holding less than the vectors: a short count, not EAGAIN */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    write(p[1], "12345", 5);
    CALL("readv nonblocking 3+4", readv(p[0], r2, 2));
    CALL("readv empty nonblocking", readv(p[0], r2, 2));
    write(p[1], "123", 3);
    CALL("readv exactly 3, then none", readv(p[0], r2, 2));
    return 0;
}
