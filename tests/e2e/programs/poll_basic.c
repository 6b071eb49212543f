/* poll: readiness of pipes (data, hang-up, broken), regular files, POLLNVAL, negative fds. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(const char *what, struct pollfd *p, int n, int timeout) {
    int r = poll(p, n, timeout);
    printf("%s: poll=%d", what, r);
    for (int i = 0; i < n; i++) printf(" [%d]=0x%x", i, p[i].revents);
    printf("\n");
}

int main(void) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    struct pollfd p[3];
    p[0] = (struct pollfd){.fd = fds[0], .events = POLLIN};
    p[1] = (struct pollfd){.fd = fds[1], .events = POLLOUT};
    p[2] = (struct pollfd){.fd = -1, .events = POLLIN};
    show("empty pipe", p, 3, 0);
    write(fds[1], "abc", 3);
    show("data", p, 3, 0);
    p[0].events = POLLIN | POLLRDNORM;
    show("rdnorm", p, 1, 0);
    close(fds[1]);
    show("data+writer closed", p, 1, 0);
    char buf[8];
    read(fds[0], buf, sizeof buf);
    show("writer closed", p, 1, 100);
    close(fds[0]);
    show("closed fd", p, 1, 0);

    if (pipe(fds) != 0) return 1;
    close(fds[0]);
    p[0] = (struct pollfd){.fd = fds[1], .events = POLLOUT};
    show("reader closed", p, 1, 0);
    p[0].events = 0;
    show("reader closed, no events", p, 1, 0);
    close(fds[1]);

    int f = open("file.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    p[0] = (struct pollfd){.fd = f, .events = POLLIN | POLLOUT | POLLPRI};
    show("regular file", p, 1, -1);
    close(f);
    show("nothing", p, 0, 10);

    /* fill a pipe: POLLOUT goes away */
    if (pipe(fds) != 0) return 1;
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    char big[4096];
    memset(big, 'x', sizeof big);
    while (write(fds[1], big, sizeof big) > 0) {}
    p[0] = (struct pollfd){.fd = fds[1], .events = POLLOUT};
    show("full pipe", p, 1, 0);
    read(fds[0], big, sizeof big);
    show("one page read", p, 1, 0);
    return 0;
}
