/* Name and service lookup from files: getaddrinfo (families, AI_PASSIVE, AI_NUMERICHOST,
 * AI_CANONNAME, numeric and named services), gethostbyname, getnameinfo, for the names given as
 * arguments (they are in /etc/hosts). Result lists are sorted: only their contents count. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void show(const char *label, const char *host, const char *serv, int family, int type,
                 int flags) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_flags = flags;
    int rc = getaddrinfo(host, serv, &hints, &res);
    printf("%s: rc %d\n", label, rc);
    if (rc) return;
    char *lines[64];
    int n = 0;
    for (struct addrinfo *ai = res; ai && n < 64; ai = ai->ai_next) {
        char addr[INET6_ADDRSTRLEN] = "?";
        int port = -1;
        if (ai->ai_family == AF_INET) {
            struct sockaddr_in *s = (void *)ai->ai_addr;
            inet_ntop(AF_INET, &s->sin_addr, addr, sizeof addr);
            port = ntohs(s->sin_port);
        } else if (ai->ai_family == AF_INET6) {
            struct sockaddr_in6 *s = (void *)ai->ai_addr;
            inet_ntop(AF_INET6, &s->sin6_addr, addr, sizeof addr);
            port = ntohs(s->sin6_port);
        }
        /* musl fills ai_canonname of the first result even unasked (docs/libc.md) */
        const char *canon = flags & AI_CANONNAME ? ai->ai_canonname : NULL;
        lines[n] = malloc(200);
        snprintf(lines[n], 200, "  fam %d type %d proto %d addrlen %d %s port %d%s%s", ai->ai_family,
                 ai->ai_socktype, ai->ai_protocol, (int)ai->ai_addrlen, addr, port,
                 canon ? " canon " : "", canon ? canon : "");
        n++;
    }
    qsort(lines, n, sizeof *lines, cmp);
    for (int i = 0; i < n; i++) { printf("%s\n", lines[i]); free(lines[i]); }
    freeaddrinfo(res);
}

static void byname(const char *name) {
    struct hostent *h = gethostbyname(name);
    if (!h) { printf("gethostbyname %s: NULL h_errno %d\n", name, h_errno); return; }
    char addr[INET_ADDRSTRLEN] = "?";
    int count = 0;
    for (char **p = h->h_addr_list; *p; p++) count++;
    inet_ntop(AF_INET, h->h_addr_list[0], addr, sizeof addr);
    printf("gethostbyname %s: name %s type %d len %d first %s count %d\n", name, h->h_name,
           h->h_addrtype, h->h_length, addr, count);
}

static void nameinfo(const char *ip, int port, int flags) {
    struct sockaddr_in s = {0};
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    inet_pton(AF_INET, ip, &s.sin_addr);
    char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
    int rc = getnameinfo((struct sockaddr *)&s, sizeof s, host, sizeof host, serv, sizeof serv, flags);
    printf("getnameinfo %s:%d flags %d: rc %d host %s serv %s\n", ip, port, flags, rc, host, serv);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 1; i < argc; i++) {
        char label[300];
        snprintf(label, sizeof label, "%s stream port 80", argv[i]);
        show(label, argv[i], "80", AF_UNSPEC, SOCK_STREAM, 0);
        snprintf(label, sizeof label, "%s inet canonname", argv[i]);
        show(label, argv[i], NULL, AF_INET, SOCK_DGRAM, AI_CANONNAME);
        snprintf(label, sizeof label, "%s numerichost", argv[i]);
        show(label, argv[i], "80", AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST);
        byname(argv[i]);
    }
    show("numeric v4", "127.0.0.1", "8080", AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST);
    show("numeric v4 numericserv", "10.1.2.3", "7", AF_INET, SOCK_DGRAM, AI_NUMERICHOST | AI_NUMERICSERV);
    show("numeric v6", "::1", "443", AF_INET6, SOCK_DGRAM, 0);
    show("numeric v6 full", "fe80::1:2", "0", AF_INET6, SOCK_STREAM, AI_NUMERICHOST);
    show("passive any", NULL, "9000", AF_UNSPEC, SOCK_STREAM, AI_PASSIVE);
    show("passive inet", NULL, "9000", AF_INET, SOCK_DGRAM, AI_PASSIVE);
    show("loopback default", NULL, "9000", AF_INET, SOCK_STREAM, 0);
    show("service http", "127.0.0.1", "http", AF_INET, SOCK_STREAM, 0);
    show("service domain udp", "127.0.0.1", "domain", AF_INET, SOCK_DGRAM, 0);
    show("service unknown", "127.0.0.1", "nosuchservice", AF_INET, SOCK_STREAM, 0);
    show("numericserv with a name", "127.0.0.1", "http", AF_INET, SOCK_STREAM, AI_NUMERICSERV);
    show("no host no service", NULL, NULL, AF_UNSPEC, SOCK_STREAM, 0);
    show("bad family", "127.0.0.1", "80", 12345, SOCK_STREAM, 0);
    show("bad flags", "127.0.0.1", "80", AF_INET, SOCK_STREAM, 0x10000);
    byname("127.0.0.1");
    nameinfo("127.0.0.1", 80, NI_NUMERICHOST | NI_NUMERICSERV);
    nameinfo("127.0.0.1", 80, 0);
    nameinfo("10.9.8.7", 12345, NI_NUMERICHOST | NI_NUMERICSERV);
    nameinfo("127.0.0.1", 53, NI_DGRAM);
    return 0;
}
