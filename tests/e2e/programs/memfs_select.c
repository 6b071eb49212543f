/* select() and poll() on a file in argv[1] (/tmp under `namespace:/tmp=memfs`): a regular file
   is always ready; an empty pipe beside it is not; a closed descriptor is EBADF/POLLNVAL. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/selected.txt", dir);
    int fd = open(path, O_CREAT | O_RDWR, 0644);
    write(fd, "x", 1);
    int p[2];
    pipe(p);
    printf("file %d, pipe %d %d\n", fd, p[0], p[1]);

    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(fd, &r);
    FD_SET(p[0], &r);
    FD_SET(fd, &w);
    struct timeval now = {0, 0};
    int n = select((fd > p[0] ? fd : p[0]) + 1, &r, &w, NULL, &now);
    printf("select: %d ready; file readable %d writable %d; empty pipe readable %d\n", n,
           FD_ISSET(fd, &r) != 0, FD_ISSET(fd, &w) != 0, FD_ISSET(p[0], &r) != 0);

    FD_ZERO(&r);
    FD_SET(fd, &r);
    struct timeval later = {5, 0};
    printf("select with a timeout, file only: %d\n", select(fd + 1, &r, NULL, NULL, &later));

    struct pollfd fds[2] = {{fd, POLLIN | POLLOUT, 0}, {p[0], POLLIN, 0}};
    n = poll(fds, 2, 0);
    printf("poll: %d; file revents %#x; pipe revents %#x\n", n, fds[0].revents, fds[1].revents);

    close(fd);
    FD_ZERO(&r);
    FD_SET(fd, &r);
    now.tv_sec = 0;
    n = select(fd + 1, &r, NULL, NULL, &now);
    printf("select on it once closed: %d (%s)\n", n, n < 0 ? strerror(errno) : "");
    fds[0].revents = 0;
    n = poll(fds, 1, 0);
    printf("poll on it once closed: %d, revents %#x\n", n, fds[0].revents);
    return 0;
}
