/* AF_INET semantics checked against Linux: UDP, non-blocking accept/connect, errors, options,
 * shutdown, EPIPE/SIGPIPE, MSG_PEEK/MSG_DONTWAIT/MSG_WAITALL, gethostname. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int sigpipes;
static void on_pipe(int sig) { (void)sig; sigpipes++; }

static const char *ename(int e) {
    switch (e) {
    case EAGAIN: return "EAGAIN"; case EINPROGRESS: return "EINPROGRESS";
    case EALREADY: return "EALREADY"; case EISCONN: return "EISCONN";
    case ENOTCONN: return "ENOTCONN"; case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET"; case EADDRINUSE: return "EADDRINUSE";
    case EINVAL: return "EINVAL"; case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOTSOCK: return "ENOTSOCK"; case EBADF: return "EBADF"; case EPIPE: return "EPIPE";
    case EOPNOTSUPP: return "EOPNOTSUPP"; case ENOPROTOOPT: return "ENOPROTOOPT";
    case EDESTADDRREQ: return "EDESTADDRREQ"; case EPROTOTYPE: return "EPROTOTYPE";
    case ENOENT: return "ENOENT"; case EPERM: return "EPERM"; case EMSGSIZE: return "EMSGSIZE";
    case EFAULT: return "EFAULT"; case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT"; case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EACCES: return "EACCES"; case EINTR: return "EINTR";
    default: return "E?";
    }
}

#define CHECK(what, expr) do { int r_ = (expr); \
    printf("%-38s %d %s\n", what, r_, r_ < 0 ? ename(errno) : ""); } while (0)

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int port_of(int s) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static int getint(int s, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(s, level, name, &v, &len) < 0) return -errno;
    return v;
}

static void udp(void) {
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in la = loopback(0), lb = loopback(0);
    bind(a, (struct sockaddr *)&la, sizeof la);
    bind(b, (struct sockaddr *)&lb, sizeof lb);
    struct sockaddr_in to = loopback(port_of(b));
    CHECK("udp sendto 5", sendto(a, "hello", 5, 0, (struct sockaddr *)&to, sizeof to));
    CHECK("udp sendto 3", sendto(a, "abc", 3, 0, (struct sockaddr *)&to, sizeof to));
    char buf[16] = {0};
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    CHECK("udp recvfrom peek", recvfrom(b, buf, sizeof buf, MSG_PEEK, NULL, NULL));
    CHECK("udp recvfrom", recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
    printf("udp data '%s' family %d loopback %d port-match %d len %d\n", buf, from.sin_family,
           from.sin_addr.s_addr == htonl(INADDR_LOOPBACK), ntohs(from.sin_port) == port_of(a),
           (int)flen);
    CHECK("udp short recv (truncates)", recv(b, buf, 2, 0));
    CHECK("udp recv empty MSG_DONTWAIT", recv(b, buf, sizeof buf, MSG_DONTWAIT));
    CHECK("udp sendto bad family", sendto(a, "x", 1, 0,
          (struct sockaddr *)&(struct sockaddr_in6){.sin6_family = AF_INET6}, 28));
    CHECK("udp sendto short addrlen", sendto(a, "x", 1, 0, (struct sockaddr *)&to, 4));
    CHECK("udp SO_TYPE", getint(a, SOL_SOCKET, SO_TYPE));
    CHECK("udp send unconnected", send(a, "x", 1, 0));
    close(a);
    close(b);
}

static void tcp(void) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in la = loopback(0);
    CHECK("bind", bind(s, (struct sockaddr *)&la, sizeof la));
    CHECK("bind again", bind(s, (struct sockaddr *)&la, sizeof la));
    CHECK("SO_ACCEPTCONN before listen", getint(s, SOL_SOCKET, SO_ACCEPTCONN));
    CHECK("listen", listen(s, 8));
    CHECK("SO_ACCEPTCONN", getint(s, SOL_SOCKET, SO_ACCEPTCONN));
    CHECK("accept non-blocking (EAGAIN)", accept(s, NULL, NULL));
    int port = port_of(s);

    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in to = loopback(port);
    CHECK("non-blocking connect", connect(c, (struct sockaddr *)&to, sizeof to));
    int flags = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, flags & ~O_NONBLOCK);
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int d = accept(s, (struct sockaddr *)&peer, &plen);
    printf("accepted %d family %d loopback %d\n", d >= 0, peer.sin_family,
           peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    printf("accepted is non-blocking: %d\n", (fcntl(d, F_GETFL) & O_NONBLOCK) != 0);
    CHECK("SO_ERROR after connect", getint(c, SOL_SOCKET, SO_ERROR));
    CHECK("connect again (completes)", connect(c, (struct sockaddr *)&to, sizeof to));
    CHECK("connect again (EISCONN)", connect(c, (struct sockaddr *)&to, sizeof to));
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);

    struct sockaddr_in name;
    socklen_t nlen = sizeof name;
    CHECK("getpeername", getpeername(c, (struct sockaddr *)&name, &nlen));
    printf("peer family %d port-match %d len %d\n", name.sin_family, ntohs(name.sin_port) == port,
           (int)nlen);
    nlen = 4;
    CHECK("getsockname truncated", getsockname(c, (struct sockaddr *)&name, &nlen));
    printf("truncated len reported %d\n", (int)nlen);
    CHECK("getpeername on listener", getpeername(s, (struct sockaddr *)&name, &nlen));

    /* data: peek, waitall, dontwait */
    CHECK("send 10", send(c, "0123456789", 10, 0));
    char buf[32] = {0};
    CHECK("recv MSG_PEEK 4", recv(d, buf, 4, MSG_PEEK));
    CHECK("recv MSG_WAITALL 10", recv(d, buf, 10, MSG_WAITALL));
    printf("data '%s'\n", buf);
    CHECK("recv MSG_DONTWAIT empty", recv(d, buf, 10, MSG_DONTWAIT));

    /* options */
    int one = 1, size = 65536;
    CHECK("setsockopt TCP_NODELAY", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    CHECK("TCP_NODELAY", getint(c, IPPROTO_TCP, TCP_NODELAY) != 0);
    CHECK("setsockopt SO_KEEPALIVE", setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    CHECK("SO_KEEPALIVE", getint(c, SOL_SOCKET, SO_KEEPALIVE));
    CHECK("setsockopt SO_RCVBUF", setsockopt(c, SOL_SOCKET, SO_RCVBUF, &size, sizeof size));
    CHECK("SO_RCVBUF (doubled)", getint(c, SOL_SOCKET, SO_RCVBUF));
    CHECK("setsockopt SO_SNDBUF", setsockopt(c, SOL_SOCKET, SO_SNDBUF, &size, sizeof size));
    CHECK("SO_SNDBUF (doubled)", getint(c, SOL_SOCKET, SO_SNDBUF));
    CHECK("SO_REUSEADDR", getint(c, SOL_SOCKET, SO_REUSEADDR));
    CHECK("SO_TYPE", getint(c, SOL_SOCKET, SO_TYPE));
    CHECK("SO_DOMAIN", getint(c, SOL_SOCKET, SO_DOMAIN));
    CHECK("SO_PROTOCOL", getint(c, SOL_SOCKET, SO_PROTOCOL));
    CHECK("unknown option", getint(c, SOL_SOCKET, 9999));
    CHECK("setsockopt short optlen", setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, 2));
    struct linger lg = {1, 0}, lg2 = {0, 0};
    socklen_t lglen = sizeof lg2;
    CHECK("setsockopt SO_LINGER", setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    CHECK("getsockopt SO_LINGER", getsockopt(c, SOL_SOCKET, SO_LINGER, &lg2, &lglen));
    printf("linger %d %d len %d\n", lg2.l_onoff, lg2.l_linger, (int)lglen);
    lg.l_onoff = 0;
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    struct timeval tv = {0, 200000}, tv2;
    socklen_t tvlen = sizeof tv2;
    CHECK("setsockopt SO_RCVTIMEO", setsockopt(d, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    CHECK("getsockopt SO_RCVTIMEO", getsockopt(d, SOL_SOCKET, SO_RCVTIMEO, &tv2, &tvlen));
    printf("rcvtimeo %ld.%06ld\n", (long)tv2.tv_sec, (long)tv2.tv_usec);
    CHECK("recv times out (EAGAIN)", recv(d, buf, 10, 0));

    /* shutdown: the peer reads EOF; our writes fail with EPIPE (+SIGPIPE) */
    CHECK("shutdown SHUT_WR", shutdown(c, SHUT_WR));
    CHECK("peer reads EOF", recv(d, buf, sizeof buf, 0));
    CHECK("send after SHUT_WR, MSG_NOSIGNAL", send(c, "x", 1, MSG_NOSIGNAL));
    printf("sigpipes %d\n", sigpipes);
    CHECK("write after SHUT_WR", write(c, "x", 1));
    printf("sigpipes %d\n", sigpipes);
    CHECK("peer can still send", send(d, "back", 4, 0));
    CHECK("we still read", recv(c, buf, sizeof buf, 0));
    CHECK("shutdown bad how", shutdown(c, 7));
    close(c);
    close(d);

    /* connect to a closed port */
    int dead = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in tmp = loopback(0);
    bind(dead, (struct sockaddr *)&tmp, sizeof tmp);
    int closed_port = port_of(dead);
    close(dead);
    int r = socket(AF_INET, SOCK_STREAM, 0);
    to = loopback(closed_port);
    CHECK("connect closed port (ECONNREFUSED)", connect(r, (struct sockaddr *)&to, sizeof to));
    CHECK("connect bad addrlen", connect(r, (struct sockaddr *)&to, 3));
    CHECK("bind AF_INET6 addr on inet", bind(r, (struct sockaddr *)&(struct sockaddr_in6){
          .sin6_family = AF_INET6}, sizeof(struct sockaddr_in6)));
    CHECK("recv on unconnected", recv(r, buf, 1, 0));
    CHECK("shutdown unconnected", shutdown(r, SHUT_RDWR));
    close(r);
    close(s);
}

static void errors(void) {
    int fd = open("plain.txt", O_CREAT | O_RDWR, 0644);
    int v;
    socklen_t len = sizeof v;
    struct sockaddr_in a = loopback(0);
    CHECK("bind on a file (ENOTSOCK)", bind(fd, (struct sockaddr *)&a, sizeof a));
    CHECK("listen on a file", listen(fd, 1));
    CHECK("getsockopt on a file", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len));
    CHECK("send on a file", send(fd, "x", 1, 0));
    CHECK("recv on a bad fd (EBADF)", recv(999, &v, 1, 0));
    CHECK("socket bad family", socket(12345, SOCK_STREAM, 0));
    CHECK("socket bad type flag", socket(AF_INET, SOCK_STREAM | 0x100, 0));
    CHECK("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
    close(fd);
    unlink("plain.txt");
    char host[256] = {0};
    CHECK("gethostname", gethostname(host, sizeof host));
    printf("hostname non-empty %d\n", host[0] != 0);
}

int main(void) {
    signal(SIGPIPE, on_pipe);
    setvbuf(stdout, NULL, _IONBF, 0);
    udp();
    tcp();
    errors();
    return 0;
}
