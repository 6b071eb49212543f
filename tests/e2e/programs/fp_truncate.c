/* truncate/ftruncate and the sizes every later call sees: stat, fstat of other descriptors, lstat
 * through a symlink, statx, fstatat, reads past the new end, the zeros of an extension, O_APPEND
 * writes after a truncate, stdio streams, a shared mapping. Each call is its own statement
 * (argument evaluation order differs between compilers: gcc evaluates printf's arguments right
 * to left, which makes "truncate(...), stat size" print the size from *before* the truncate). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CALL(label, expr)                                                                  \
    do {                                                                                   \
        errno = 0;                                                                         \
        long long r_ = (expr);                                                             \
        int e_ = errno;                                                                    \
        printf("%-30s %lld errno %d\n", label, r_, r_ < 0 ? e_ : 0);                       \
    } while (0)

static long long sz(const char *p) {
    struct stat st;
    return stat(p, &st) ? -errno : (long long)st.st_size;
}
static long long fsz(int fd) {
    struct stat st;
    return fstat(fd, &st) ? -errno : (long long)st.st_size;
}
static long long xsz(int dirfd, const char *p) {
    struct statx sx;
    return statx(dirfd, p, 0, STATX_SIZE, &sx) ? -errno : (long long)sx.stx_size;
}
static long long atsz(int dirfd, const char *p) {
    struct stat st;
    return fstatat(dirfd, p, &st, 0) ? -errno : (long long)st.st_size;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    mkdir("d", 0755);
    int fd = open("d/t", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "0123456789", 10);
    int other = open("d/t", O_RDONLY);
    int dir = open("d", O_RDONLY | O_DIRECTORY);
    symlink("d/t", "link");

    CALL("truncate 4", truncate("d/t", 4));
    CALL("stat", sz("d/t"));
    CALL("fstat writer", fsz(fd));
    CALL("fstat other fd", fsz(other));
    CALL("statx", xsz(AT_FDCWD, "d/t"));
    CALL("fstatat dirfd", atsz(dir, "t"));
    CALL("truncate via symlink 6", truncate("link", 6));
    CALL("stat", sz("d/t"));
    chdir("d");
    CALL("truncate after chdir 3", truncate("t", 3));
    CALL("stat relative", sz("t"));
    chdir("..");

    char b[16];
    lseek(other, 1, SEEK_SET);
    CALL("read from 1 of 3", read(other, b, sizeof b));
    CALL("read at the end", read(other, b, sizeof b));
    CALL("writer position kept", lseek(fd, 0, SEEK_CUR));

    CALL("ftruncate 12", ftruncate(fd, 12));
    CALL("stat", sz("d/t"));
    CALL("fstat other fd", fsz(other));
    memset(b, 'x', sizeof b);
    CALL("pread extension", pread(other, b, sizeof b, 0));
    printf("bytes 0-2 '%.3s', 3 and 11 are zero %d\n", b, b[3] == 0 && b[11] == 0);
    CALL("write at old position", write(fd, "W", 1));
    CALL("size unchanged", sz("d/t"));

    int ap = open("d/t", O_WRONLY | O_APPEND);
    CALL("truncate 1", truncate("d/t", 1));
    CALL("append after truncate", write(ap, "AB", 2));
    CALL("stat", sz("d/t"));
    CALL("append position", lseek(ap, 0, SEEK_CUR));
    CALL("ftruncate 0 via O_APPEND fd", ftruncate(ap, 0));
    CALL("append again", write(ap, "C", 1));
    CALL("fstat other fd", fsz(other));
    memset(b, 0, sizeof b);
    CALL("pread all", pread(other, b, sizeof b, 0));
    printf("content '%s'\n", b);

    /* stdio on top */
    FILE *f = fopen("d/s", "w+");
    fputs("abcdefghij", f);
    fflush(f);
    CALL("truncate stdio file 5", truncate("d/s", 5));
    CALL("stat", sz("d/s"));
    fseek(f, 0, SEEK_END);
    CALL("ftell at end", ftell(f));
    CALL("fstat fileno", fsz(fileno(f)));
    fclose(f);

    /* a shared mapping of the file */
    int m = open("d/m", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CALL("ftruncate 8192", ftruncate(m, 8192));
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    p[0] = 'q';
    CALL("truncate mapped 100", truncate("d/m", 100));
    CALL("stat", sz("d/m"));
    CALL("fstat", fsz(m));
    CALL("mapped byte kept", p[0]);
    munmap(p, 8192);

    /* errors */
    CALL("truncate a directory", truncate("d", 0));
    CALL("truncate missing", truncate("d/nope", 0));
    CALL("truncate negative", truncate("d/t", -1));
    CALL("ftruncate negative", ftruncate(fd, -1));
    CALL("ftruncate read-only fd", ftruncate(other, 1));
    CALL("ftruncate a directory fd", ftruncate(dir, 1));
    int pp[2];
    pipe(pp);
    CALL("ftruncate a pipe", ftruncate(pp[1], 0));
    CALL("truncate empty path", truncate("", 0));
    return 0;
}
