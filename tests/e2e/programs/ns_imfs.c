/* Files under /tmp and beside it, for `namespace:/tmp=imfs.c` (a clamped C grate): the
 * output is the same as natively, while only the file outside /tmp reaches the cage's root.
 * Absolute /tmp paths only (imfs does not follow chdir) and no dup (imfs does not dup). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define INSIDE "/tmp/lind_ns_imfs_inside.txt"

int main(void) {
    mkdir("/tmp", 0777); /* exists natively; created in imfs */
    int fd = open(INSIDE, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    printf("create inside: %s\n", fd >= 0 ? "ok" : strerror(errno));
    printf("write: %zd\n", write(fd, "kept in memory\n", 15));
    close(fd);
    fd = open("outside.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    printf("create outside: %s\n", fd >= 0 ? "ok" : strerror(errno));
    write(fd, "on the host\n", 12);
    close(fd);

    fd = open(INSIDE, O_RDONLY);
    char buf[64] = {0};
    ssize_t got = read(fd, buf, 5);
    printf("read %zd: [%s]\n", got, buf);
    struct stat st;
    int r = fstat(fd, &st);
    printf("fstat: %d size %lld\n", r, (long long)st.st_size);
    fflush(stdout); /* (glibc and musl buffer a pipe differently before the first flush) */
    pid_t child = fork();
    if (child == 0) { /* the child reads on from the shared descriptor */
        memset(buf, 0, sizeof buf);
        got = read(fd, buf, sizeof buf - 1);
        printf("child read %zd: %s", got, buf);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    printf("parent at %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    close(fd);

    printf("stat missing: %s\n", stat("/tmp/lind_ns_imfs_missing", &st) ? strerror(errno) : "found");
    printf("unlink inside: %d\n", unlink(INSIDE));
    printf("gone: %s\n", access(INSIDE, F_OK) ? strerror(errno) : "still there");
    fd = open("outside.txt", O_RDONLY);
    memset(buf, 0, sizeof buf);
    got = read(fd, buf, sizeof buf - 1);
    printf("outside %zd: %s", got, buf);
    close(fd);
    return 0;
}
