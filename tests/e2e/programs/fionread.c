/* ioctl(FIONREAD): bytes waiting in a pipe, a socketpair and a regular file. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void show(const char *what, int fd) {
    int n = -1;
    int r = ioctl(fd, FIONREAD, &n);
    printf("%s: r=%d n=%d\n", what, r, n);
}

int main(void) {
    int p[2], s[2];
    if (pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, s)) return 1;
    show("empty pipe", p[0]);
    write(p[1], "hello", 5);
    show("pipe with 5", p[0]);
    write(s[0], "abc", 3);
    show("socket with 3", s[1]);
    int fd = open("f", O_CREAT | O_RDWR | O_TRUNC, 0644);
    write(fd, "0123456789", 10);
    lseek(fd, 4, SEEK_SET);
    show("file at 4 of 10", fd);
    return 0;
}
