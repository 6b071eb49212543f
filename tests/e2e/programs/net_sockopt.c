/* getsockopt/setsockopt conformance on AF_UNIX (stream, dgram, seqpacket), TCP and UDP sockets:
 * the common options, Linux's doubling of buffer sizes, unknown options and levels, bad lengths,
 * SO_ERROR after a refused connect, SO_PEERCRED. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case EINVAL: return "EINVAL"; case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP"; case ENOTSOCK: return "ENOTSOCK";
    case EBADF: return "EBADF"; case ENOTCONN: return "ENOTCONN"; case EDOM: return "EDOM";
    case EPERM: return "EPERM"; case EFAULT: return "EFAULT"; case EINPROGRESS: return "EINPROGRESS";
    case ECONNREFUSED: return "ECONNREFUSED"; case EAGAIN: return "EAGAIN";
    default: return "E?";
    }
}

static void get_int(const char *what, int fd, int level, int name) {
    int v = -12345;
    socklen_t len = sizeof v;
    errno = 0;
    int r = getsockopt(fd, level, name, &v, &len);
    if (r < 0)
        printf("  get %-22s -1 %s\n", what, ename(errno));
    else
        printf("  get %-22s %d (len %d)\n", what, v, (int)len);
}

static void set_int(const char *what, int fd, int level, int name, int v) {
    errno = 0;
    int r = setsockopt(fd, level, name, &v, sizeof v);
    printf("  set %-22s %d -> %d %s\n", what, v, r, r < 0 ? ename(errno) : "");
}

#define GET(fd, level, name) get_int(#name, fd, level, name)
#define SET(fd, level, name, v) set_int(#name, fd, level, name, v)

#define SHOW(label, call) do { errno = 0; int r_ = (call); \
    printf("  %-30s %d %s\n", label, r_, r_ < 0 ? ename(errno) : ""); } while (0)

static void common(int fd, int is_tcp) {
    GET(fd, SOL_SOCKET, SO_TYPE);
    GET(fd, SOL_SOCKET, SO_DOMAIN);
    GET(fd, SOL_SOCKET, SO_PROTOCOL);
    GET(fd, SOL_SOCKET, SO_ERROR);
    GET(fd, SOL_SOCKET, SO_ACCEPTCONN);
    GET(fd, SOL_SOCKET, SO_REUSEADDR);
    SET(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    GET(fd, SOL_SOCKET, SO_REUSEADDR);
    SET(fd, SOL_SOCKET, SO_REUSEADDR, 7);
    GET(fd, SOL_SOCKET, SO_REUSEADDR);
    GET(fd, SOL_SOCKET, SO_KEEPALIVE);
    SET(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    GET(fd, SOL_SOCKET, SO_KEEPALIVE);
    SET(fd, SOL_SOCKET, SO_SNDBUF, 10000);
    GET(fd, SOL_SOCKET, SO_SNDBUF);
    SET(fd, SOL_SOCKET, SO_RCVBUF, 3000);
    GET(fd, SOL_SOCKET, SO_RCVBUF);
    SET(fd, SOL_SOCKET, SO_RCVBUF, 1);
    GET(fd, SOL_SOCKET, SO_RCVBUF);
    SET(fd, SOL_SOCKET, SO_SNDBUF, 1);
    GET(fd, SOL_SOCKET, SO_SNDBUF);
    GET(fd, SOL_SOCKET, SO_RCVLOWAT);
    GET(fd, SOL_SOCKET, SO_BROADCAST);
    GET(fd, SOL_SOCKET, SO_OOBINLINE);
    GET(fd, SOL_SOCKET, SO_PRIORITY);
    SET(fd, SOL_SOCKET, SO_PRIORITY, 3);
    SET(fd, SOL_SOCKET, SO_RCVLOWAT, 0);
    GET(fd, SOL_SOCKET, SO_RCVLOWAT);
    SET(fd, SOL_SOCKET, SO_BROADCAST, 5);
    GET(fd, SOL_SOCKET, SO_BROADCAST);
    GET(fd, SOL_SOCKET, SO_PRIORITY);
    GET(fd, SOL_SOCKET, SO_DONTROUTE);
    GET(fd, SOL_SOCKET, SO_PASSCRED);
    /* unknown option, unknown level, bad lengths */
    GET(fd, SOL_SOCKET, 9999);
    SET(fd, SOL_SOCKET, 9999, 1);
    get_int("level 12345", fd, 12345, 1);
    set_int("level 12345", fd, 12345, 1, 1);
    int v = 1;
    SHOW("set SO_REUSEADDR optlen 2", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, 2));
    SHOW("set SO_REUSEADDR optlen -1", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, (socklen_t)-1));
    socklen_t len = (socklen_t)-1;
    SHOW("get SO_TYPE optlen -1", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len));
    len = 2;
    v = 0x7f7f7f7f;
    int r = getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len);
    printf("  get SO_TYPE optlen 2           %d len %d value %#x\n", r, (int)len, v);
    len = 0;
    r = getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len);
    printf("  get SO_TYPE optlen 0           %d len %d\n", r, (int)len);
    char big[16];
    len = sizeof big;
    r = getsockopt(fd, SOL_SOCKET, SO_TYPE, big, &len);
    printf("  get SO_TYPE optlen 16          %d len %d\n", r, (int)len);
    /* timeouts and linger */
    struct timeval tv = {2, 500000}, got = {0, 0};
    printf("  set SO_RCVTIMEO                %d\n", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    len = sizeof got;
    r = getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &got, &len);
    printf("  get SO_RCVTIMEO                %d %ld.%06ld len %d\n", r, (long)got.tv_sec, (long)got.tv_usec, (int)len);
    tv.tv_usec = 2000000;
    SHOW("set SO_SNDTIMEO usec 2000000", setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    SHOW("set SO_SNDTIMEO short", setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, 4));
    struct linger lg = {1, 0}, lgot = {9, 9};
    printf("  set SO_LINGER 1,0              %d\n", setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    len = sizeof lgot;
    r = getsockopt(fd, SOL_SOCKET, SO_LINGER, &lgot, &len);
    printf("  get SO_LINGER                  %d %d,%d len %d\n", r, lgot.l_onoff, lgot.l_linger, (int)len);
    /* protocol levels */
    GET(fd, IPPROTO_TCP, TCP_NODELAY);
    SET(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    GET(fd, IPPROTO_TCP, TCP_NODELAY);
    get_int("TCP 9999", fd, IPPROTO_TCP, 9999);
    GET(fd, IPPROTO_IP, IP_TTL);
    SET(fd, IPPROTO_IP, IP_TTL, 33);
    GET(fd, IPPROTO_IP, IP_TTL);
    get_int("IP 9999", fd, IPPROTO_IP, 9999);
    (void)is_tcp;
}

static void peercred(const char *what, int fd) {
    struct ucred c = {-7, 7, 7};
    socklen_t len = sizeof c;
    errno = 0;
    int r = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len);
    printf("  SO_PEERCRED %-18s %d %s len %d pid me %d zero %d uid ok %d gid ok %d\n", what, r,
           r < 0 ? ename(errno) : "", (int)len, c.pid == getpid(), c.pid == 0,
           c.uid == getuid(), c.gid == getgid());
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *names[3] = {"unix stream", "unix dgram", "unix seqpacket"};
    int types[3] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    for (int i = 0; i < 3; i++) {
        printf("== %s\n", names[i]);
        int sv[2];
        socketpair(AF_UNIX, types[i], 0, sv);
        common(sv[0], 0);
        peercred("pair", sv[1]);
        int s = socket(AF_UNIX, types[i], 0);
        peercred("unconnected", s);
        if (types[i] != SOCK_DGRAM) {
            struct sockaddr_un a;
            memset(&a, 0, sizeof a);
            a.sun_family = AF_UNIX;
            strcpy(a.sun_path, "opt.sock");
            bind(s, (struct sockaddr *)&a, sizeof a);
            listen(s, 1);
            GET(s, SOL_SOCKET, SO_ACCEPTCONN);
            peercred("listener", s);
            int c = socket(AF_UNIX, types[i], 0);
            connect(c, (struct sockaddr *)&a, sizeof a);
            peercred("client", c);
            int d = accept(s, NULL, NULL);
            peercred("accepted", d);
            GET(d, SOL_SOCKET, SO_ACCEPTCONN);
            close(c);
            close(d);
            unlink("opt.sock");
        }
        close(s);
        close(sv[0]);
        close(sv[1]);
    }
    printf("== tcp\n");
    int t = socket(AF_INET, SOCK_STREAM, 0);
    common(t, 1);
    GET(t, IPPROTO_TCP, TCP_MAXSEG);
    GET(t, IPPROTO_TCP, TCP_KEEPIDLE);
    SET(t, IPPROTO_TCP, TCP_KEEPIDLE, 30);
    GET(t, IPPROTO_TCP, TCP_KEEPIDLE);
    SET(t, IPPROTO_TCP, TCP_KEEPIDLE, 0);
    peercred("tcp unconnected", t);
    struct sockaddr_in any = {0};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(t, (struct sockaddr *)&any, sizeof any);
    listen(t, 1);
    GET(t, SOL_SOCKET, SO_ACCEPTCONN);
    socklen_t alen = sizeof any;
    getsockname(t, (struct sockaddr *)&any, &alen);
    close(t);
    /* a refused non-blocking connect: the error is in SO_ERROR, once */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    errno = 0;
    int r = connect(c, (struct sockaddr *)&any, sizeof any);
    printf("  connect to closed port %d %s\n", r, r < 0 ? (errno == EINPROGRESS || errno == ECONNREFUSED ? "refused-or-inprogress" : ename(errno)) : "");
    usleep(100000);
    GET(c, SOL_SOCKET, SO_ERROR);
    GET(c, SOL_SOCKET, SO_ERROR);
    close(c);
    printf("== udp\n");
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    common(u, 0);
    SET(u, SOL_SOCKET, SO_BROADCAST, 1);
    GET(u, SOL_SOCKET, SO_BROADCAST);
    close(u);
    printf("== udp6\n");
    int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
    GET(u6, IPPROTO_IPV6, IPV6_V6ONLY);
    SET(u6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    GET(u6, IPPROTO_IPV6, IPV6_V6ONLY);
    close(u6);
    printf("== not sockets\n");
    int v = 0;
    socklen_t len = sizeof v;
    SHOW("get on stdin (/dev/null)", getsockopt(0, SOL_SOCKET, SO_TYPE, &v, &len));
    int p[2];
    pipe(p);
    SHOW("get on a pipe", getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &len));
    SHOW("set on a bad fd", setsockopt(99, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
    return 0;
}
