/* Cross-world AF_UNIX probe. NAME is "@x" for the abstract name "\0x", else a path.
 *   serve NAME FILE  bind NAME, listen, print "listening", accept one connection and pass it an
 *                    open fd of FILE with SCM_RIGHTS, then exit;
 *   connect NAME     connect to NAME and print what arrives: "connect: <errno name>" on a
 *                    refusal, else "got: <first line of the passed file>". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *errname(int e) {
    switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOENT: return "ENOENT";
    case EADDRINUSE: return "EADDRINUSE";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    default: return strerror(e);
    }
}

static socklen_t address(const char *name, struct sockaddr_un *sa) {
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (name[0] == '@') {
        memcpy(sa->sun_path + 1, name + 1, n - 1); /* sun_path[0] stays 0: abstract */
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    }
    memcpy(sa->sun_path, name, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

static int serve(const char *name, const char *file) {
    struct sockaddr_un sa;
    socklen_t len = address(name, &sa);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(s, (struct sockaddr *)&sa, len) != 0) {
        printf("bind: %s\n", errname(errno));
        return 1;
    }
    if (listen(s, 4) != 0) return 2;
    printf("listening\n");
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    if (c < 0) return 3;
    int fd = open(file, O_RDONLY);
    if (fd < 0) return 4;
    char data = 'x';
    struct iovec iov = {.iov_base = &data, .iov_len = 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    if (sendmsg(c, &msg, 0) != 1) return 5;
    printf("served\n");
    return 0;
}

static int client(const char *name) {
    struct sockaddr_un sa;
    socklen_t len = address(name, &sa);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&sa, len) != 0) {
        printf("connect: %s\n", errname(errno));
        return 0;
    }
    char data;
    struct iovec iov = {.iov_base = &data, .iov_len = 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    if (recvmsg(s, &msg, 0) != 1) {
        printf("recvmsg: %s\n", errname(errno));
        return 1;
    }
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (cm == NULL || cm->cmsg_type != SCM_RIGHTS) {
        printf("no fd\n");
        return 1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    char buf[128] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0) return 1;
    buf[strcspn(buf, "\n")] = 0;
    printf("got: %s\n", buf);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 4 && strcmp(argv[1], "serve") == 0) return serve(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "connect") == 0) return client(argv[2]);
    fprintf(stderr, "usage: serve NAME FILE | connect NAME\n");
    return 2;
}
