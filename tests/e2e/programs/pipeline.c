/* producer | filter | consumer, built with pipe/dup2/fork/exec: 16 MiB through two pipes.
 * `pipeline` runs the stages by exec'ing itself (./pipeline ROLE). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL (16u << 20)

static int produce(void) {
    static unsigned char buf[65536];
    uint32_t x = 1;
    for (unsigned sent = 0; sent < TOTAL; sent += sizeof buf) {
        for (size_t i = 0; i < sizeof buf; i++) { x = x * 1664525u + 1013904223u; buf[i] = x >> 24; }
        for (size_t off = 0; off < sizeof buf;) {
            ssize_t n = write(1, buf + off, sizeof buf - off);
            if (n <= 0) return 1;
            off += n;
        }
    }
    return 0;
}

static int filter(void) {   /* rot13-like byte transform */
    static unsigned char buf[40000];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) buf[i] = (unsigned char)(buf[i] + 13);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buf + off, n - off);
            if (w <= 0) return 1;
            off += w;
        }
    }
    return n < 0;
}

static int consume(void) {
    static unsigned char buf[30000];
    uint32_t h = 2166136261u;
    unsigned long total = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) h = (h ^ buf[i]) * 16777619u;
        total += n;
    }
    printf("consumer: %lu bytes, fnv1a %08x\n", total, h);
    return 0;
}

static pid_t stage(const char *role, int in, int out, int close_a, int close_b) {
    pid_t pid = fork();
    if (pid == 0) {
        if (in >= 0) { dup2(in, 0); close(in); }
        if (out >= 0) { dup2(out, 1); close(out); }
        if (close_a >= 0) close(close_a);
        if (close_b >= 0) close(close_b);
        char *args[] = {"pipeline", (char *)role, NULL};
        execv("./pipeline", args);
        _exit(127);
    }
    return pid;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "produce")) return produce();
    if (argc > 1 && !strcmp(argv[1], "filter")) return filter();
    if (argc > 1 && !strcmp(argv[1], "consume")) return consume();
    int a[2], b[2];
    pipe(a);
    pipe(b);
    pid_t p1 = stage("produce", -1, a[1], a[0], -1);
    pid_t p2 = stage("filter", a[0], b[1], a[1], b[0]);
    close(a[0]);
    close(a[1]);
    pid_t p3 = stage("consume", b[0], -1, b[1], -1);
    close(b[0]);
    close(b[1]);
    int ok = 0, status;
    pid_t pids[3] = {p1, p2, p3};
    for (int i = 0; i < 3; i++)
        if (waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0) ok++;
    printf("stages ok: %d\n", ok);
    return 0;
}
