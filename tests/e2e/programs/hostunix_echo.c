/* A line echo server on the AF_UNIX path /srv.sock, and its client.
 *   hostunix_echo server N [poll]  bind, listen, print "ready", then for each of N connections:
 *                            (wait with poll, if asked) accept, send "R" with SCM_RIGHTS (fd 1) and say whether
 *                            the rights went, report the peer's and own names, echo until EOF.
 *   hostunix_echo client MSG connect, read the "R" (closing any fd received), send MSG, print
 *                            what comes back. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un srv_addr(void) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, "/srv.sock");
    return a;
}

static int send_rights(int conn) {
    char byte = 'R';
    struct iovec iov = {&byte, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int one = 1;
    memcpy(CMSG_DATA(c), &one, sizeof one);
    if (sendmsg(conn, &msg, 0) == 1) return 0;
    int err = errno;
    if (write(conn, "R", 1) != 1) return -1;
    return err;
}

static int server(int n, int use_poll) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = srv_addr();
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 8) < 0) {
        perror("server");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        struct pollfd p = {s, POLLIN, 0};
        if (use_poll && (poll(&p, 1, -1) != 1 || !(p.revents & POLLIN))) {
            perror("poll");
            return 1;
        }
        struct sockaddr_un peer;
        socklen_t len = sizeof peer;
        int c = accept(s, (struct sockaddr *)&peer, &len);
        if (c < 0) {
            perror("accept");
            return 1;
        }
        int err = send_rights(c);
        struct sockaddr_un me;
        socklen_t mlen = sizeof me;
        getsockname(c, (struct sockaddr *)&me, &mlen);
        printf("conn %d rights=%s peerlen=%u name=%s\n", i,
               err == 0 ? "ok" : err == EPERM ? "EPERM" : "other", (unsigned)len, me.sun_path);
        fflush(stdout);
        char buf[512];
        ssize_t got;
        while ((got = read(c, buf, sizeof buf)) > 0)
            if (write(c, buf, (size_t)got) != got) break;
        close(c);
    }
    return 0;
}

static int client(const char *text) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = srv_addr();
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        return 1;
    }
    char byte;
    struct iovec iov = {&byte, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    if (recvmsg(s, &msg, 0) != 1) return 1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
        close(fd);
    }
    char line[512];
    snprintf(line, sizeof line, "%s\n", text);
    if (write(s, line, strlen(line)) < 0) return 1;
    shutdown(s, SHUT_WR);
    char buf[512];
    size_t total = 0;
    ssize_t got;
    while ((got = read(s, buf + total, sizeof buf - 1 - total)) > 0) total += (size_t)got;
    buf[total] = 0;
    printf("got: %s", buf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "server") == 0)
        return server(atoi(argv[2]), argc > 3 && strcmp(argv[3], "poll") == 0);
    if (argc == 3 && strcmp(argv[1], "client") == 0) return client(argv[2]);
    fprintf(stderr, "usage: hostunix_echo server N [poll] | client MSG\n");
    return 2;
}
