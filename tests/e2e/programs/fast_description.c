/* Descriptions made by the compiled trampoline's open (native/syscall_files.c builds a regular
 * file's HostFile in C once a record is free): every flag it takes, each descriptor then used
 * by a call Python serves (fsync; the test inspects the description there), read, written,
 * seeked and closed, the output compared with native. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    close(open("seed.txt", O_CREAT | O_WRONLY, 0644)); /* a record back in the pool */
    int fd = open("data.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    write(fd, "0123456789", 10);
    close(fd);
    static const struct { const char *name; int flags; } opens[] = {
        {"data.txt", O_RDONLY},
        {"data.txt", O_WRONLY},
        {"data.txt", O_RDWR},
        {"data.txt", O_RDWR | O_APPEND},
        {"data.txt", O_WRONLY | O_APPEND | O_NONBLOCK},
        {"data.txt", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY},
        {"new.txt", O_RDWR | O_CREAT | O_EXCL},
    };
    for (size_t i = 0; i < sizeof opens / sizeof opens[0]; i++) {
        fd = open(opens[i].name, opens[i].flags, 0640);
        int synced = fsync(fd);
        char buf[8] = {0};
        ssize_t got = read(fd, buf, 4);
        int read_errno = got < 0 ? errno : 0;
        ssize_t put = write(fd, "ab", 2);
        int write_errno = put < 0 ? errno : 0;
        off_t at = lseek(fd, 0, SEEK_CUR);
        int flags = fcntl(fd, F_GETFL) & ~0100000; /* (O_LARGEFILE: set natively on some;
                                                     * O_NOCTTY: Linux never shows it) */
        int fdflags = fcntl(fd, F_GETFD);
        printf("%zu: fd %d fsync %d read %zd/%d \"%s\" write %zd/%d at %lld fl %o fd %d close %d\n",
               i, fd, synced, got, read_errno, buf, put, write_errno, (long long)at, flags,
               fdflags, close(fd));
    }
    fd = open("data.txt", O_RDONLY);
    char all[32] = {0};
    printf("data: %zd \"%s\"\n", read(fd, all, sizeof all - 1), all);
    close(fd);
    unlink("new.txt");
    return 0;
}
