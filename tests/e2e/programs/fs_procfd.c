/* /dev/fd, /dev/std*, /proc/self/fd and /proc/self/exe: only what behaves the same natively. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #x, errno); return 1; } } while (0)

static int cmpint(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open("data", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd == 3);
    CHECK(write(fd, "0123456789", 10) == 10);

    /* readlink of /proc/self/fd/N: the file's path ends with /data */
    char link[256];
    ssize_t n = readlink("/proc/self/fd/3", link, sizeof link - 1);
    CHECK(n > 0);
    link[n] = 0;
    printf("readlink /proc/self/fd/3 ends with /data: %d\n", n >= 5 && strcmp(link + n - 5, "/data") == 0);

    /* reopening a regular file through /dev/fd gives its own offset */
    int again = open("/dev/fd/3", O_RDONLY);
    CHECK(again >= 0);
    char buf[16];
    CHECK(read(again, buf, 4) == 4);
    printf("/dev/fd/3 reopened reads from 0: [%.4s]; original offset still %lld\n", buf,
           (long long)lseek(fd, 0, SEEK_CUR));
    struct stat a, b;
    CHECK(fstat(fd, &a) == 0 && fstat(again, &b) == 0);
    printf("same file: %d\n", a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    CHECK(stat("/proc/self/fd/3", &b) == 0);
    printf("stat /proc/self/fd/3 size=%lld same=%d\n", (long long)b.st_size, a.st_ino == b.st_ino);
    CHECK(lstat("/proc/self/fd/3", &b) == 0);
    printf("lstat /proc/self/fd/3 is a link: %d\n", S_ISLNK(b.st_mode));
    close(again);

    /* a pipe through /dev/fd is the same pipe */
    int p[2];
    CHECK(pipe(p) == 0);
    char name[32];
    snprintf(name, sizeof name, "/dev/fd/%d", p[1]);
    int w = open(name, O_WRONLY);
    CHECK(w >= 0);
    CHECK(write(w, "via", 3) == 3);
    CHECK(read(p[0], buf, sizeof buf) == 3);
    printf("pipe written through %s: [%.3s]\n", "/dev/fd/N", buf);
    snprintf(name, sizeof name, "/proc/self/fd/%d", p[0]);
    n = readlink(name, link, sizeof link - 1);
    CHECK(n > 0);
    link[n] = 0;
    printf("readlink of a pipe starts with pipe:[ %d\n", strncmp(link, "pipe:[", 6) == 0);
    close(w);

    /* the listing of /proc/self/fd is our open descriptors (plus the directory's own) */
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int fds[64], count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        fds[count++] = atoi(e->d_name);
    }
    int dir_fd = dirfd(d);
    closedir(d);
    qsort(fds, count, sizeof *fds, cmpint);
    printf("/proc/self/fd lists:");
    for (int i = 0; i < count; i++) if (fds[i] == dir_fd) printf(" (its own %d)", dir_fd);
    for (int i = 0; i < count; i++) if (fds[i] != dir_fd) printf(" %d", fds[i]);
    printf("\n");
    d = opendir("/dev/fd");
    CHECK(d != NULL);
    int count2 = 0;
    while ((e = readdir(d)) != NULL) count2 += e->d_name[0] != '.';
    closedir(d);
    printf("/dev/fd lists the same count: %d\n", count2 == count);

    /* errors */
    errno = 0;
    int bad = open("/dev/fd/99", O_RDONLY);
    printf("open /dev/fd/99: %d %s\n", bad, errno == ENOENT || errno == EBADF ? "ENOENT/EBADF" : strerror(errno));
    errno = 0;
    n = readlink("/proc/self/fd/99", link, sizeof link);
    printf("readlink /proc/self/fd/99: %zd %s\n", n, errno == ENOENT || errno == EBADF ? "ENOENT/EBADF" : strerror(errno));

    /* /dev/stdout is our stdout */
    int out = open("/dev/stdout", O_WRONLY | O_APPEND);
    CHECK(out >= 0);
    CHECK(write(out, "written to /dev/stdout\n", 23) == 23);
    close(out);

    /* /proc/self/exe names this program */
    n = readlink("/proc/self/exe", link, sizeof link - 1);
    CHECK(n > 0);
    link[n] = 0;
    printf("/proc/self/exe is an absolute path: %d\n", link[0] == '/');
    close(p[0]);
    close(p[1]);
    close(fd);
    printf("done\n");
    return 0;
}
