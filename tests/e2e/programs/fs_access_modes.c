/* Linux's access mode 3 (both access bits set): an open that checks read and write permission
 * and gives a descriptor that can neither read nor write; O_PATH, with which open(2) ignores
 * every flag but O_CLOEXEC, O_DIRECTORY and O_NOFOLLOW; and names under /proc/self/fd and
 * /dev/fd of closed descriptors, which do not exist (ENOENT, not EBADF).
 * (MODE3 is written out: musl's MODE3 also holds O_PATH, glibc's does not.) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODE3 3

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: %ld\n", what, r);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open("data", O_CREAT | O_RDWR | O_TRUNC, 0644);
    show("create", fd);
    show("write", write(fd, "0123456789", 10));
    close(fd);

    /* mode 3 on a regular file: opened, but no read or write */
    int both = open("data", MODE3);
    show("open mode 3", both);
    char buf[8];
    show("  read", read(both, buf, sizeof buf));
    show("  write", write(both, "x", 1));
    show("  pread", pread(both, buf, 4, 0));
    show("  pwrite", pwrite(both, "x", 1, 0));
    show("  lseek", lseek(both, 3, SEEK_SET));
    show("  F_GETFL access", fcntl(both, F_GETFL) & MODE3);
    struct stat st;
    show("  fstat", fstat(both, &st) == 0 ? (long)st.st_size : -1);
    show("  ftruncate", ftruncate(both, 2));
    show("  close", close(both));
    show("mode 3 with O_CLOEXEC|O_APPEND", open("data", MODE3 | O_CLOEXEC | O_APPEND));
    int fd2 = open("data", O_RDONLY);
    show("file still 10 bytes", read(fd2, buf, sizeof buf) + read(fd2, buf, sizeof buf));
    close(fd2);
    close(4);

    /* mode 3 elsewhere */
    mkdir("dir", 0755);
    show("directory, mode 3", open("dir", MODE3));
    show("missing, mode 3", open("missing", MODE3));
    int null = open("/dev/null", MODE3);
    show("/dev/null, mode 3", null);
    show("  read", read(null, buf, 1));
    show("  write", write(null, "x", 1));
    close(null);
    mkfifo("fifo", 0644);
    show("FIFO, mode 3", open("fifo", MODE3 | O_NONBLOCK));

    /* O_PATH: the access mode, O_CREAT, O_TRUNC and O_APPEND are ignored */
    int path = open("data", O_PATH | O_RDWR | O_TRUNC | O_APPEND);
    show("O_PATH|O_RDWR|O_TRUNC|O_APPEND", path >= 0);
    show("  read", read(path, buf, 1));
    show("  F_GETFL has O_PATH, access bits", (fcntl(path, F_GETFL) & O_PATH) ? fcntl(path, F_GETFL) & 3 : -9);
    show("  fstat size (not truncated)", fstat(path, &st) == 0 ? (long)st.st_size : -1);
    close(path);
    show("O_PATH|O_CREAT of a missing name", open("missing", O_PATH | O_CREAT | O_WRONLY, 0644));
    show("  not created", access("missing", F_OK));
    show("O_PATH|MODE3", (path = open("data", O_PATH | MODE3)) >= 0);
    close(path);

    /* a closed descriptor's name under /proc/self/fd and /dev/fd */
    char link[64];
    show("readlink closed /proc/self/fd/9", readlink("/proc/self/fd/9", link, sizeof link));
    show("stat closed /proc/self/fd/9", stat("/proc/self/fd/9", &st));
    show("lstat closed /proc/self/fd/9", lstat("/proc/self/fd/9", &st));
    show("open closed /proc/self/fd/9", open("/proc/self/fd/9", O_RDONLY));
    show("open closed /dev/fd/9", open("/dev/fd/9", O_RDONLY));
    show("access closed /dev/fd/9", access("/dev/fd/9", R_OK));
    show("open missing /proc/self/fd/99999", open("/proc/self/fd/99999", O_RDONLY));
    int open_one = open("data", O_RDONLY);
    show("readlink open /proc/self/fd/N is a path", readlink("/proc/self/fd/3", link, sizeof link) > 0);
    close(open_one);
    return 0;
}
