/* socketpair(2) conformance: AF_UNIX SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET pairs, with
 * SOCK_NONBLOCK|SOCK_CLOEXEC, across fork, shutdown then EOF, SCM_RIGHTS, MSG_PEEK,
 * MSG_DONTWAIT, MSG_TRUNC, names, credentials, poll, and the families and types that fail.
 * Every line is printed by the parent (or by a child whose output the parent waits for). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN"; case EINVAL: return "EINVAL"; case EPIPE: return "EPIPE";
    case ENOTCONN: return "ENOTCONN"; case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT"; case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT"; case EMSGSIZE: return "EMSGSIZE";
    case EFAULT: return "EFAULT"; case EBADF: return "EBADF"; case ENOTSOCK: return "ENOTSOCK";
    case EISCONN: return "EISCONN"; case ECONNRESET: return "ECONNRESET";
    case EPROTOTYPE: return "EPROTOTYPE"; case ENOPROTOOPT: return "ENOPROTOOPT";
    default: return "E?";
    }
}

#define CHECK(what, expr) do { errno = 0; long r_ = (long)(expr); \
    printf("%-44s %ld %s\n", what, r_, r_ < 0 ? ename(errno) : ""); } while (0)

static const char *tname(int type) {
    return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "dgram" : "seqpacket";
}

static int send_fd(int sock, int fd, const char *data, int flags) {
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = {(void *)data, strlen(data)};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return sendmsg(sock, &msg, flags);
}

/* recvmsg into a 3-iovec buffer; prints what came, returns the received fd or -1. */
static int recv_fd(int sock, int flags) {
    char control[CMSG_SPACE(2 * sizeof(int))];
    char a[4] = {0}, b[4] = {0}, c[32] = {0};
    struct iovec iov[3] = {{a, 3}, {b, 3}, {c, sizeof c - 1}};
    struct msghdr msg = {0};
    msg.msg_iov = iov;
    msg.msg_iovlen = 3;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    errno = 0;
    int n = recvmsg(sock, &msg, flags);
    int fd = -1, count = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); n >= 0 && cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            count += (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(&fd, CMSG_DATA(cm), sizeof fd);
        }
    }
    printf("  recvmsg %d %s '%s|%s|%s' fds %d trunc %d ctrunc %d cloexec %d\n", n,
           n < 0 ? ename(errno) : "", a, b, c, count, n >= 0 && (msg.msg_flags & MSG_TRUNC) != 0,
           n >= 0 && (msg.msg_flags & MSG_CTRUNC) != 0,
           fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    return fd;
}

static void flags_of(int type) {
    int sv[2];
    CHECK("socketpair NONBLOCK|CLOEXEC", socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    printf("  nonblock %d %d cloexec %d %d\n", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0,
           (fcntl(sv[1], F_GETFL) & O_NONBLOCK) != 0, (fcntl(sv[0], F_GETFD) & FD_CLOEXEC) != 0,
           (fcntl(sv[1], F_GETFD) & FD_CLOEXEC) != 0);
    printf("  fds distinct %d\n", sv[0] != sv[1] && sv[0] >= 0 && sv[1] >= 0);
    char buf[16];
    CHECK("  empty read (EAGAIN)", read(sv[0], buf, sizeof buf));
    int v = 0; socklen_t len = sizeof v;
    CHECK("  SO_TYPE", (getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len), v));
    CHECK("  SO_DOMAIN", (getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &len), v));
    CHECK("  SO_PROTOCOL", (getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &v, &len), v));
    CHECK("  SO_ACCEPTCONN", (getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &len), v));
    struct ucred cred; socklen_t clen = sizeof cred;
    CHECK("  SO_PEERCRED", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cred, &clen));
    printf("  peercred len %d pid is me %d uid %d gid %d\n", (int)clen, cred.pid == getpid(),
           cred.uid == getuid(), cred.gid == getgid());
    close(sv[0]);
    close(sv[1]);
}

static void data_of(int type) {
    int sv[2];
    char buf[64];
    CHECK("socketpair", socketpair(AF_UNIX, type, 0, sv));
    struct sockaddr_un name; socklen_t nlen = sizeof name;
    memset(&name, 0x55, sizeof name);
    CHECK("  getsockname", getsockname(sv[0], (struct sockaddr *)&name, &nlen));
    printf("  name len %d family %d\n", (int)nlen, name.sun_family);
    nlen = sizeof name;
    memset(&name, 0x55, sizeof name);
    CHECK("  getpeername", getpeername(sv[1], (struct sockaddr *)&name, &nlen));
    printf("  peer len %d family %d\n", (int)nlen, name.sun_family);

    CHECK("  send 'hello'", send(sv[0], "hello", 5, 0));
    CHECK("  send 'world!'", send(sv[0], "world!", 6, 0));
    int avail = -1;
    CHECK("  FIONREAD", (ioctl(sv[1], FIONREAD, &avail), avail));
    struct pollfd p = {sv[1], POLLIN | POLLOUT, 0};
    CHECK("  poll", poll(&p, 1, 0));
    printf("  revents in %d out %d hup %d\n", !!(p.revents & POLLIN), !!(p.revents & POLLOUT),
           !!(p.revents & POLLHUP));
    memset(buf, 0, sizeof buf);
    CHECK("  recv MSG_PEEK 3", recv(sv[1], buf, 3, MSG_PEEK));
    printf("  peeked '%s'\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK("  recv MSG_PEEK|MSG_TRUNC 2", recv(sv[1], buf, 2, MSG_PEEK | MSG_TRUNC));
    memset(buf, 0, sizeof buf);
    CHECK("  recv 3", recv(sv[1], buf, 3, 0));
    printf("  got '%s'\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK("  recv 64", recv(sv[1], buf, sizeof buf, 0));
    printf("  got '%s'\n", buf);
    CHECK("  recv MSG_DONTWAIT (empty)", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    CHECK("  send MSG_DONTWAIT", send(sv[1], "back", 4, MSG_DONTWAIT));
    memset(buf, 0, sizeof buf);
    CHECK("  read", read(sv[0], buf, sizeof buf));

    /* recvmsg scatter + MSG_TRUNC in msg_flags */
    CHECK("  send 13 bytes", send(sv[0], "abcdefghijklm", 13, 0));
    struct iovec iov[2] = {{buf, 4}, {buf + 10, 4}};
    struct msghdr msg = {0};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    memset(buf, '.', sizeof buf);
    buf[20] = 0;
    CHECK("  recvmsg 4+4", recvmsg(sv[1], &msg, 0));
    printf("  scattered '%s' trunc %d\n", buf, !!(msg.msg_flags & MSG_TRUNC));
    CHECK("  recv rest (EAGAIN unless stream)", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));

    /* SCM_RIGHTS: a pipe's read end; MSG_CMSG_CLOEXEC; peek does not take rights */
    int pp[2];
    pipe(pp);
    write(pp[1], "piped", 5);
    CHECK("  sendmsg SCM_RIGHTS", send_fd(sv[0], pp[0], "fdmessage", 0));
    close(pp[0]);
    int peeked = recv_fd(sv[1], MSG_PEEK);
    if (peeked >= 0) close(peeked);
    int fd = recv_fd(sv[1], MSG_CMSG_CLOEXEC);
    memset(buf, 0, sizeof buf);
    CHECK("  read passed pipe", read(fd, buf, sizeof buf));
    printf("  passed: '%s'\n", buf);
    close(fd);
    close(pp[1]);

    /* shutdown(SHUT_WR): the peer reads EOF (stream, seqpacket) or nothing (dgram) */
    CHECK("  send before shutdown", send(sv[0], "last", 4, 0));
    CHECK("  shutdown SHUT_WR", shutdown(sv[0], SHUT_WR));
    CHECK("  send after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL));
    memset(buf, 0, sizeof buf);
    CHECK("  recv pending", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    CHECK("  recv after SHUT_WR", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    p.fd = sv[1];
    p.events = POLLIN | POLLOUT | POLLRDHUP;
    CHECK("  poll after SHUT_WR", poll(&p, 1, 0));
    printf("  revents in %d out %d hup %d rdhup %d\n", !!(p.revents & POLLIN),
           !!(p.revents & POLLOUT), !!(p.revents & POLLHUP), !!(p.revents & POLLRDHUP));
    CHECK("  other way still works", send(sv[1], "up", 2, MSG_NOSIGNAL));
    CHECK("  recv it", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    CHECK("  shutdown bad how", shutdown(sv[0], 7));
    close(sv[1]);
    CHECK("  send to closed peer", send(sv[0], "x", 1, MSG_NOSIGNAL));
    CHECK("  recv from closed peer", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    close(sv[0]);
}

static void fork_of(int type) {
    int sv[2];
    char buf[64];
    socketpair(AF_UNIX, type, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        char in[64] = {0};
        int n = recv(sv[1], in, sizeof in, 0);
        char out[80];
        int m = snprintf(out, sizeof out, "child got %d '%s'", n, in);
        send(sv[1], out, m, 0);
        recv(sv[1], in, sizeof in, 0); /* the parent's ack: the fd's message stays separate */
        int pp[2];
        pipe(pp);
        write(pp[1], "from child", 10);
        close(pp[1]);
        send_fd(sv[1], pp[0], "fd", 0);
        close(pp[0]);
        if (type != SOCK_DGRAM) shutdown(sv[1], SHUT_WR);
        _exit(0);
    }
    close(sv[1]);
    CHECK("  parent send", send(sv[0], "to child", 8, 0));
    memset(buf, 0, sizeof buf);
    CHECK("  parent recv", recv(sv[0], buf, sizeof buf, 0));
    printf("  '%s'\n", buf);
    send(sv[0], "ack", 3, 0);
    int fd = recv_fd(sv[0], 0);
    memset(buf, 0, sizeof buf);
    CHECK("  read child's pipe", read(fd, buf, sizeof buf));
    printf("  '%s'\n", buf);
    close(fd);
    int status;
    waitpid(pid, &status, 0);
    printf("  child status %d\n", status);
    if (type != SOCK_DGRAM)
        CHECK("  EOF after child", recv(sv[0], buf, sizeof buf, 0));
    else
        CHECK("  nothing after child", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    close(sv[0]);
}

static void boundaries_of(int type) {
    int sv[2];
    if (type == SOCK_STREAM) return;
    socketpair(AF_UNIX, type, 0, sv);
    static char big[300000];
    memset(big, 'b', sizeof big);
    int sndbuf = 0; socklen_t len = sizeof sndbuf;
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
    CHECK("  send larger than SO_SNDBUF", send(sv[0], big, sndbuf + 1, MSG_DONTWAIT));
    CHECK("  send 1000", send(sv[0], big, 1000, 0));
    CHECK("  send 0 bytes", send(sv[0], big, 0, 0));
    CHECK("  send 10", send(sv[0], big, 10, 0));
    CHECK("  recv 4096", recv(sv[1], big, 4096, 0));
    CHECK("  recv 4096 (empty message or next)", recv(sv[1], big, 4096, MSG_DONTWAIT));
    CHECK("  recv 4096", recv(sv[1], big, 4096, MSG_DONTWAIT));
    CHECK("  recv (EAGAIN)", recv(sv[1], big, 4096, MSG_DONTWAIT));
    close(sv[0]);
    close(sv[1]);
}

static void failures(void) {
    int sv[2] = {-7, -7};
    CHECK("AF_INET stream", socketpair(AF_INET, SOCK_STREAM, 0, sv));
    CHECK("AF_INET dgram", socketpair(AF_INET, SOCK_DGRAM, 0, sv));
    CHECK("AF_INET6 stream", socketpair(AF_INET6, SOCK_STREAM, 0, sv));
    CHECK("family 4242", socketpair(4242, SOCK_STREAM, 0, sv));
    CHECK("AF_UNIX type 99", socketpair(AF_UNIX, 99, 0, sv));
    CHECK("AF_UNIX protocol 7", socketpair(AF_UNIX, SOCK_STREAM, 7, sv));
    CHECK("AF_UNIX protocol PF_UNIX", socketpair(AF_UNIX, SOCK_STREAM, PF_UNIX, sv));
    close(sv[0]);
    close(sv[1]);
    CHECK("AF_UNIX bad flag", socketpair(AF_UNIX, SOCK_STREAM | 0x40000000, 0, sv));
    CHECK("AF_UNIX SOCK_RAW (is dgram)", socketpair(AF_UNIX, SOCK_RAW, 0, sv));
    int v = 0; socklen_t len = sizeof v;
    CHECK("  SO_TYPE", (getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len), v));
    close(sv[0]);
    close(sv[1]);
    CHECK("socket AF_UNIX seqpacket", (v = socket(AF_UNIX, SOCK_SEQPACKET, 0)) >= 0);
    close(v);
}

static void seqpacket_listener(void) {
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, "seq.sock");
    CHECK("seqpacket bind", bind(s, (struct sockaddr *)&a, sizeof a));
    CHECK("seqpacket listen", listen(s, 2));
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK("seqpacket connect", connect(c, (struct sockaddr *)&a, sizeof a));
    int d = accept(s, NULL, NULL);
    printf("accepted %d\n", d >= 0);
    CHECK("  send a", send(c, "one", 3, 0));
    CHECK("  send b", send(c, "two!", 4, 0));
    char buf[16] = {0};
    CHECK("  recv", recv(d, buf, sizeof buf, 0));
    CHECK("  recv", recv(d, buf, sizeof buf, 0));
    CHECK("  sendto with address (EISCONN/ignored)", sendto(c, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
    CHECK("  recv", recv(d, buf, sizeof buf, MSG_DONTWAIT));
    int dg = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK("  stream connect to seqpacket", connect(dg, (struct sockaddr *)&a, sizeof a));
    close(dg);
    close(c);
    CHECK("  recv after close", recv(d, buf, sizeof buf, 0));
    close(d);
    close(s);
    unlink("seq.sock");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, SIG_IGN);
    int types[3] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    for (int i = 0; i < 3; i++) {
        printf("== %s\n", tname(types[i]));
        flags_of(types[i]);
        data_of(types[i]);
        printf("-- fork\n");
        fork_of(types[i]);
        printf("-- boundaries\n");
        boundaries_of(types[i]);
    }
    printf("== failures\n");
    failures();
    printf("== seqpacket listener\n");
    seqpacket_listener();
    return 0;
}
