/* Network interfaces as the program sees them: getifaddrs (musl: a NETLINK_ROUTE dump),
 * if_nameindex / if_nametoindex / if_indextoname, the SIOCGIF* ioctls, and a netlink route
 * socket's own behaviour. Lists are sorted, so the order the kernel dumps in does not matter. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#if __has_include(<linux/rtnetlink.h>)
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#else /* musl has no kernel headers: the few definitions used here */
#define NETLINK_ROUTE 0
struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; unsigned nl_pid, nl_groups; };
struct nlmsghdr { unsigned nlmsg_len; unsigned short nlmsg_type, nlmsg_flags; unsigned nlmsg_seq, nlmsg_pid; };
struct nlmsgerr { int error; struct nlmsghdr msg; };
struct rtgenmsg { unsigned char rtgen_family; };
struct ifinfomsg { unsigned char ifi_family, __ifi_pad; unsigned short ifi_type; int ifi_index;
                   unsigned ifi_flags, ifi_change; };
#define NLM_F_REQUEST 1
#define NLM_F_ACK 4
#define NLM_F_DUMP 0x300
#define NLMSG_ERROR 2
#define NLMSG_DONE 3
#define RTM_NEWLINK 16
#define RTM_GETLINK 18
#define NLMSG_ALIGN(len) (((len) + 3) & ~3)
#define NLMSG_HDRLEN ((int)NLMSG_ALIGN(sizeof(struct nlmsghdr)))
#define NLMSG_DATA(nlh) ((void *)((char *)(nlh) + NLMSG_HDRLEN))
#define NLMSG_NEXT(nlh, len) ((len) -= NLMSG_ALIGN((nlh)->nlmsg_len), \
    (struct nlmsghdr *)((char *)(nlh) + NLMSG_ALIGN((nlh)->nlmsg_len)))
#define NLMSG_OK(nlh, len) ((len) >= (int)sizeof(struct nlmsghdr) && \
    (nlh)->nlmsg_len >= sizeof(struct nlmsghdr) && (nlh)->nlmsg_len <= (unsigned)(len))
#endif

static char lines[512][256];
static int nlines;

static int cmp(const void *a, const void *b) { return strcmp(a, b); }

static void flush_sorted(void) {
    qsort(lines, nlines, sizeof lines[0], cmp);
    for (int i = 0; i < nlines; i++) printf("%s\n", lines[i]);
    nlines = 0;
}

static void addr_str(const struct sockaddr *sa, char *out, size_t n) {
    if (!sa) { snprintf(out, n, "-"); return; }
    char buf[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
        snprintf(out, n, "%s%%%u", buf, (unsigned)s6->sin6_scope_id);
        return;
    } else if (sa->sa_family == AF_PACKET) {
        const struct sockaddr_ll *ll = (const void *)sa;
        int k = snprintf(out, n, "ll idx %d halen %d", ll->sll_ifindex, ll->sll_halen);
        for (int i = 0; i < ll->sll_halen && i < 8; i++)
            k += snprintf(out + k, n - k, "%c%02x", i ? ':' : ' ', ll->sll_addr[i]);
        return;
    }
    snprintf(out, n, "%s", buf);
}

static void ifaddrs(void) {
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0) { perror("getifaddrs"); return; }
    int has_lo = 0;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        char a[96], m[96], b[96];
        int fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
        addr_str(i->ifa_addr, a, sizeof a);
        addr_str(fam == AF_PACKET ? NULL : i->ifa_netmask, m, sizeof m);
        addr_str(fam == AF_INET && (i->ifa_flags & IFF_BROADCAST) ? i->ifa_broadaddr : NULL, b,
                 sizeof b);
        snprintf(lines[nlines++], sizeof lines[0], "ifa %-10s fam %2d flags %#x addr %s mask %s brd %s",
                 i->ifa_name, fam, i->ifa_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_BROADCAST | IFF_MULTICAST),
                 a, m, b);
        if (strcmp(i->ifa_name, "lo") == 0 && fam == AF_INET) has_lo = 1;
    }
    freeifaddrs(list);
    flush_sorted();
    printf("loopback has 127.0.0.1: %d\n", has_lo);
}

static void nameindex(void) {
    struct if_nameindex *ni = if_nameindex();
    if (!ni) { perror("if_nameindex"); return; }
    for (struct if_nameindex *p = ni; p->if_index; p++) {
        char back[IF_NAMESIZE] = "";
        if_indextoname(p->if_index, back);
        snprintf(lines[nlines++], sizeof lines[0], "nameindex %u %s -> %u, back %s", p->if_index,
                 p->if_name, if_nametoindex(p->if_name), back);
    }
    if_freenameindex(ni);
    flush_sorted();
    printf("if_nametoindex(nosuch0) %u\n", if_nametoindex("nosuch0"));
    char name[IF_NAMESIZE];
    errno = 0;
    char *r = if_indextoname(987654, name);
    printf("if_indextoname(987654) %s errno %s\n", r ? r : "NULL", errno == ENXIO ? "ENXIO" : "other");
}

static void ioctls(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq req[64];
    struct ifconf conf;
    conf.ifc_len = 0;
    conf.ifc_req = NULL;
    int r = ioctl(s, SIOCGIFCONF, &conf);
    printf("SIOCGIFCONF size query %d, entries %d\n", r, conf.ifc_len / (int)sizeof(struct ifreq));
    conf.ifc_len = sizeof req;
    conf.ifc_req = req;
    r = ioctl(s, SIOCGIFCONF, &conf);
    for (int i = 0; r == 0 && i < conf.ifc_len / (int)sizeof(struct ifreq); i++) {
        char a[96];
        addr_str(&req[i].ifr_addr, a, sizeof a);
        snprintf(lines[nlines++], sizeof lines[0], "ifconf %s %s", req[i].ifr_name, a);
    }
    flush_sorted();
    conf.ifc_len = sizeof(struct ifreq); /* room for one */
    r = ioctl(s, SIOCGIFCONF, &conf);
    printf("SIOCGIFCONF room for one: %d entries %d\n", r, conf.ifc_len / (int)sizeof(struct ifreq));

    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    r = ioctl(s, SIOCGIFINDEX, &ifr);
    printf("SIOCGIFINDEX lo %d -> %d\n", r, ifr.ifr_ifindex);
    int lo = ifr.ifr_ifindex;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_ifindex = lo;
    r = ioctl(s, SIOCGIFNAME, &ifr);
    printf("SIOCGIFNAME %d %d -> %s\n", lo, r, ifr.ifr_name);
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    r = ioctl(s, SIOCGIFFLAGS, &ifr);
    printf("SIOCGIFFLAGS lo %d up %d loopback %d\n", r, !!(ifr.ifr_flags & IFF_UP),
           !!(ifr.ifr_flags & IFF_LOOPBACK));
    r = ioctl(s, SIOCGIFMTU, &ifr);
    printf("SIOCGIFMTU lo %d %d\n", r, ifr.ifr_mtu);
    r = ioctl(s, SIOCGIFADDR, &ifr);
    char a[96];
    addr_str(&ifr.ifr_addr, a, sizeof a);
    printf("SIOCGIFADDR lo %d %s\n", r, a);
    strcpy(ifr.ifr_name, "lo");
    r = ioctl(s, SIOCGIFNETMASK, &ifr);
    addr_str(&ifr.ifr_netmask, a, sizeof a);
    printf("SIOCGIFNETMASK lo %d %s\n", r, a);
    strcpy(ifr.ifr_name, "nosuch0");
    errno = 0;
    r = ioctl(s, SIOCGIFFLAGS, &ifr);
    printf("SIOCGIFFLAGS nosuch0 %d %s\n", r, errno == ENODEV ? "ENODEV" : "other");
    close(s);
    int p[2];
    pipe(p);
    strcpy(ifr.ifr_name, "lo");
    errno = 0;
    r = ioctl(p[0], SIOCGIFINDEX, &ifr);
    printf("SIOCGIFINDEX on a pipe %d %s\n", r, errno == ENOTTY ? "ENOTTY" : "other");
}

static void netlink(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    printf("netlink socket ok %d\n", fd >= 0);
    struct sockaddr_nl me;
    socklen_t len = sizeof me;
    memset(&me, 0xff, sizeof me);
    int r = getsockname(fd, (struct sockaddr *)&me, &len);
    printf("getsockname %d len %d family %d groups %u\n", r, (int)len, me.nl_family, me.nl_groups);
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } req = {{sizeof req, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 42, 0}, {AF_UNSPEC}};
    r = send(fd, &req, sizeof req, 0);
    printf("send dump %d\n", r);
    char buf[8192];
    int links = 0, done = 0, seq_ok = 1, datagrams = 0;
    while (!done) {
        struct sockaddr_nl from;
        socklen_t flen = sizeof from;
        int n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
        if (n <= 0) break;
        datagrams++;
        if (from.nl_pid != 0 || flen != sizeof from) seq_ok = 0;
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != 42) seq_ok = 0;
            if (h->nlmsg_type == NLMSG_DONE) done = 1;
            else if (h->nlmsg_type == RTM_NEWLINK) links++;
        }
    }
    struct if_nameindex *ni = if_nameindex();
    int count = 0;
    for (struct if_nameindex *p = ni; p && p->if_index; p++) count++;
    if_freenameindex(ni);
    printf("dump: done %d links match if_nameindex %d seq/sender ok %d some datagrams %d\n", done,
           links == count, seq_ok, datagrams > 0);
    r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    printf("nothing more: %d %s\n", r, errno == EAGAIN ? "EAGAIN" : "other");
    /* a change request (a no-op one: natively it may run as root) is answered by an
     * NLMSG_ERROR message (an acknowledgement, or a refusal) */
    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
    } set = {{sizeof set, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 7, 0}, {0}};
    set.i.ifi_index = 1;
    r = send(fd, &set, sizeof set, 0);
    printf("send RTM_NEWLINK %d\n", r);
    int n = recv(fd, buf, sizeof buf, 0);
    struct nlmsghdr *h = (void *)buf;
    struct nlmsgerr *e = NLMSG_DATA(h);
    printf("reply %d type error %d seq %u echoed type %d\n", n > 0, h->nlmsg_type == NLMSG_ERROR,
           h->nlmsg_seq, e->msg.nlmsg_type == RTM_NEWLINK);
    close(fd);
    errno = 0;
    r = socket(AF_NETLINK, SOCK_RAW, 31);
    printf("netlink protocol 31: %d %s\n", r, errno == EPROTONOSUPPORT ? "EPROTONOSUPPORT" : "other");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    ifaddrs();
    nameindex();
    ioctls();
    netlink();
    return 0;
}
