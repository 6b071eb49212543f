/* AF_UNIX: socketpair, stream and datagram sockets bound to paths inside the root, and
 * SCM_RIGHTS passing a pipe's read end and a file between processes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN"; case EISCONN: return "EISCONN";
    case ENOTCONN: return "ENOTCONN"; case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET"; case EADDRINUSE: return "EADDRINUSE";
    case EINVAL: return "EINVAL"; case ENOTSOCK: return "ENOTSOCK"; case EBADF: return "EBADF";
    case EPIPE: return "EPIPE"; case EOPNOTSUPP: return "EOPNOTSUPP";
    case EPROTOTYPE: return "EPROTOTYPE"; case ENOENT: return "ENOENT"; case EPERM: return "EPERM";
    case EMSGSIZE: return "EMSGSIZE"; case ENOPROTOOPT: return "ENOPROTOOPT";
    default: return "E?";
    }
}

#define CHECK(what, expr) do { int r_ = (expr); \
    printf("%-40s %d %s\n", what, r_, r_ < 0 ? ename(errno) : ""); } while (0)

static struct sockaddr_un unaddr(const char *path) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, path);
    return a;
}
#define SA(x) ((struct sockaddr *)&(x))

static void pair(void) {
    int sv[2];
    CHECK("socketpair stream", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    char buf[64] = {0};
    CHECK("write a->b", write(sv[0], "hello", 5));
    CHECK("write a->b again", write(sv[0], " world", 6));
    CHECK("recv MSG_PEEK", recv(sv[1], buf, 3, MSG_PEEK));
    CHECK("read b (stream merges)", read(sv[1], buf, sizeof buf));
    printf("got '%s'\n", buf);
    CHECK("recv empty MSG_DONTWAIT", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    int v; socklen_t len = sizeof v;
    CHECK("SO_TYPE", (getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len), v));
    CHECK("SO_DOMAIN", (getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &len), v));
    struct sockaddr_un name; socklen_t nlen = sizeof name;
    CHECK("getsockname unnamed", getsockname(sv[0], SA(name), &nlen));
    printf("unnamed len %d family %d\n", (int)nlen, name.sun_family);
    CHECK("shutdown b SHUT_WR", shutdown(sv[1], SHUT_WR));
    CHECK("a reads EOF", read(sv[0], buf, sizeof buf));
    CHECK("b write after SHUT_WR (nosignal)", send(sv[1], "x", 1, MSG_NOSIGNAL));
    CHECK("a can still write", write(sv[0], "ok", 2));
    CHECK("b reads", read(sv[1], buf, sizeof buf));
    close(sv[1]);
    CHECK("write to closed peer (nosignal)", send(sv[0], "x", 1, MSG_NOSIGNAL));
    CHECK("read after peer closed", read(sv[0], buf, sizeof buf));
    close(sv[0]);

    CHECK("socketpair dgram", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    send(sv[0], "one", 3, 0);
    send(sv[0], "three", 5, 0);
    send(sv[0], "", 0, 0);
    CHECK("dgram recv 1", recv(sv[1], buf, sizeof buf, 0));
    CHECK("dgram recv 2 truncated", recv(sv[1], buf, 2, 0));
    CHECK("dgram recv empty message", recv(sv[1], buf, sizeof buf, 0));
    send(sv[0], "abcdef", 6, 0);
    CHECK("dgram recv MSG_TRUNC real length", recv(sv[1], buf, 2, MSG_TRUNC));
    CHECK("dgram recv nothing (EAGAIN)", recv(sv[1], buf, 2, MSG_DONTWAIT));
    close(sv[0]);
    close(sv[1]);
}

static void stream_paths(void) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = unaddr("srv.sock");
    socklen_t alen = sizeof a;
    CHECK("connect to missing path", connect(s, SA(a), sizeof a));
    CHECK("listen before bind", listen(s, 4));
    CHECK("bind srv.sock", bind(s, SA(a), sizeof a));
    struct stat st;
    CHECK("stat srv.sock", stat("srv.sock", &st));
    printf("is socket %d\n", S_ISSOCK(st.st_mode));
    int t = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK("bind same path (EADDRINUSE)", bind(t, SA(a), sizeof a));
    CHECK("connect to non-listening", connect(t, SA(a), sizeof a));
    CHECK("listen", listen(s, 4));
    int nb = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un nba = unaddr("nb.sock");
    bind(nb, SA(nba), sizeof nba);
    listen(nb, 1);
    CHECK("accept non-blocking (EAGAIN)", accept(nb, NULL, NULL));
    close(nb);
    unlink("nb.sock");
    int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK("dgram connect to stream (EPROTOTYPE)", connect(dg, SA(a), sizeof a));
    close(dg);
    int f = open("regular", O_CREAT | O_WRONLY, 0644);
    close(f);
    struct sockaddr_un ra = unaddr("regular");
    CHECK("connect to a regular file", connect(t, SA(ra), sizeof ra));
    close(t);

    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(c, SA(a), sizeof a) < 0) { perror("child connect"); _exit(1); }
        struct sockaddr_un p; socklen_t plen = sizeof p;
        getpeername(c, SA(p), &plen);
        char buf[64] = {0};
        write(c, "ping", 4);
        int n = read(c, buf, sizeof buf);
        printf("child: peer '%s' len %d, reply %d '%s'\n", p.sun_path, (int)plen, n, buf);
        fflush(stdout);
        _exit(0);
    }
    struct sockaddr_un peer; socklen_t plen = sizeof peer;
    int c = accept(s, SA(peer), &plen);
    char buf[64] = {0};
    int r = read(c, buf, sizeof buf);
    int w = write(c, "pong", 4);
    waitpid(pid, NULL, 0); /* print only once the child has printed */
    printf("accepted %d, peer len %d (unnamed)\n", c >= 0, (int)plen);
    printf("server read %d '%s', write %d\n", r, buf, w);
    CHECK("read after client exit", read(c, buf, sizeof buf));
    alen = sizeof a;
    memset(&a, 0, sizeof a);
    CHECK("getsockname", getsockname(s, SA(a), &alen));
    printf("name '%s' len %d\n", a.sun_path, (int)alen);
    alen = sizeof a;
    CHECK("getsockname accepted", getsockname(c, SA(a), &alen));
    printf("name '%s'\n", a.sun_path);
    close(c);
    close(s);
    CHECK("stat after close", stat("srv.sock", &st));
    CHECK("unlink srv.sock", unlink("srv.sock"));
    CHECK("stat after unlink", stat("srv.sock", &st));
    unlink("regular");
}

static void dgram_paths(void) {
    int a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un aa = unaddr("a.sock"), ba = unaddr("b.sock");
    CHECK("bind a.sock", bind(a, SA(aa), sizeof aa));
    CHECK("bind b.sock", bind(b, SA(ba), sizeof ba));
    CHECK("sendto b", sendto(a, "first", 5, 0, SA(ba), sizeof ba));
    CHECK("sendto b", sendto(a, "second!", 7, 0, SA(ba), sizeof ba));
    char buf[64] = {0};
    struct sockaddr_un from; socklen_t flen = sizeof from;
    CHECK("recvfrom", recvfrom(b, buf, sizeof buf, 0, SA(from), &flen));
    printf("'%s' from '%s' len %d\n", buf, from.sun_path, (int)flen);
    memset(buf, 0, sizeof buf);
    CHECK("recvfrom", recvfrom(b, buf, sizeof buf, 0, SA(from), &flen));
    printf("'%s'\n", buf);
    CHECK("send unconnected (ENOTCONN)", send(a, "x", 1, 0));
    CHECK("connect a->b", connect(a, SA(ba), sizeof ba));
    CHECK("send connected", send(a, "third", 5, 0));
    CHECK("recv", recv(b, buf, sizeof buf, 0));
    int c = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK("connect b->a", connect(b, SA(aa), sizeof aa));
    CHECK("third party sendto b (EPERM)", sendto(c, "x", 1, 0, SA(ba), sizeof ba));
    close(c);
    close(b);
    CHECK("send to closed peer", send(a, "x", 1, 0));
    close(a);
    unlink("a.sock");
    unlink("b.sock");
}

static int send_fds(int sock, int *fds, int n, const char *data) {
    char control[CMSG_SPACE(4 * sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = {(void *)data, strlen(data)};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
    return sendmsg(sock, &msg, 0);
}

static int recv_fds(int sock, int *fds, int room, int flags, int *got, int *msgflags) {
    char control[CMSG_SPACE(4 * sizeof(int))];
    char data[64] = {0};
    struct iovec iov = {data, sizeof data - 1};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_LEN(room * sizeof(int)); /* no slack for a further fd */
    int n = recvmsg(sock, &msg, flags);
    *got = 0;
    *msgflags = msg.msg_flags;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + *got, CMSG_DATA(cm), k * sizeof(int));
            *got += k;
        }
    }
    printf("recvmsg %d data '%s'\n", n, data);
    return n;
}

static void rights(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        int p[2];
        pipe(p);
        write(p[1], "through the pipe", 16);
        close(p[1]);
        int f = open("passed.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
        write(f, "file contents", 13);
        lseek(f, 0, SEEK_SET);
        int fds[2] = {p[0], f};
        if (send_fds(sv[1], fds, 2, "two fds") < 0) perror("sendmsg");
        close(p[0]);
        close(f);
        int q[2];
        pipe(q);
        int more[3] = {q[0], q[1], q[0]};
        if (send_fds(sv[1], more, 3, "three") < 0) perror("sendmsg");
        close(q[0]);
        close(q[1]);
        fflush(stdout);
        _exit(0);
    }
    close(sv[1]);
    waitpid(pid, NULL, 0);
    int fds[4] = {-1, -1, -1, -1}, got, mflags;
    recv_fds(sv[0], fds, 4, MSG_CMSG_CLOEXEC, &got, &mflags);
    printf("got %d fds, ctrunc %d, cloexec %d\n", got, (mflags & MSG_CTRUNC) != 0,
           (fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
    char buf[64] = {0};
    CHECK("read passed pipe", read(fds[0], buf, sizeof buf));
    printf("pipe: '%s'\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK("read passed file", read(fds[1], buf, sizeof buf));
    printf("file: '%s'\n", buf);
    CHECK("pipe EOF (writer gone)", read(fds[0], buf, sizeof buf));
    close(fds[0]);
    close(fds[1]);
    recv_fds(sv[0], fds, 1, 0, &got, &mflags);
    printf("room for 1: got %d fds, ctrunc %d\n", got, (mflags & MSG_CTRUNC) != 0);
    CHECK("passed fd is valid", fcntl(fds[0], F_GETFD));
    close(fds[0]);
    CHECK("no more messages", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    close(sv[0]);
    unlink("passed.txt");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, SIG_IGN);
    pair();
    stream_paths();
    dgram_paths();
    rights();
    return 0;
}
