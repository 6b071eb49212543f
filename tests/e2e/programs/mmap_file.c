/* File-backed mmap: MAP_PRIVATE reads the file and keeps its writes private; MAP_SHARED writes
 * reach the file (read() sees them, msync and munmap write back); write() is seen through a shared
 * mapping; two shared mappings of one file see each other; a mapping outlives close(); offsets;
 * a mapping past the end of the file reads zeros in the last page; /dev/zero. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

static int make_file(const char *name, size_t size, char fill) {
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("open"); return -1; }
    char buf[PAGE];
    for (size_t done = 0; done < size;) {
        size_t n = size - done < PAGE ? size - done : PAGE;
        for (size_t i = 0; i < n; i++) buf[i] = (char)(fill + (done + i) / PAGE);
        if (write(fd, buf, n) != (ssize_t)n) { perror("write"); return -1; }
        done += n;
    }
    return fd;
}

static void show_file(int fd, off_t at, size_t n, const char *what) {
    char buf[64] = {0};
    ssize_t got = pread(fd, buf, n < sizeof buf - 1 ? n : sizeof buf - 1, at);
    printf("%s: %zd '%s'\n", what, got, buf);
}

int main(void) {
    /* MAP_PRIVATE: the file's bytes, private writes. */
    int fd = make_file("data", 3 * PAGE, 'a');
    if (fd < 0) return 1;
    char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap private"); return 1; }
    printf("private: %c %c %c\n", p[0], p[PAGE + 5], p[3 * PAGE - 1]);
    memcpy(p, "PRIVATE", 7);
    show_file(fd, 0, 7, "file after private write");
    char *q = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE);  /* with an offset */
    printf("private at offset: %c\n", q == MAP_FAILED ? '?' : q[0]);
    munmap(q, PAGE);
    if (munmap(p, 3 * PAGE)) perror("munmap");
    show_file(fd, 0, 7, "file after private munmap");

    /* MAP_SHARED: writes reach the file. */
    char *s = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED) { perror("mmap shared"); return 1; }
    memcpy(s + 10, "shared-write", 12);
    show_file(fd, 10, 12, "read() sees the shared write");
    if (msync(s, 3 * PAGE, MS_SYNC)) perror("msync");
    show_file(fd, 10, 12, "after msync");
    if (msync(s, PAGE, MS_ASYNC | MS_INVALIDATE)) perror("msync async");
    if (pwrite(fd, "via-write", 9, PAGE + 1) != 9) perror("pwrite");
    printf("mapping sees write(): '%.9s'\n", s + PAGE + 1);
    char *s2 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * PAGE);
    if (s2 == MAP_FAILED) { perror("mmap shared 2"); return 1; }
    memcpy(s2, "second", 6);
    printf("first mapping sees the second: '%.6s'\n", s + 2 * PAGE);
    munmap(s2, PAGE);
    close(fd);  /* the mapping stays */
    memcpy(s + 2 * PAGE + 100, "after-close", 11);
    if (munmap(s, 3 * PAGE)) perror("munmap shared");
    fd = open("data", O_RDONLY);
    show_file(fd, 2 * PAGE + 100, 11, "munmap wrote back");
    show_file(fd, 0, 7, "private write never reached the file");
    close(fd);

    /* Past the end of the file: the last page reads zeros after EOF. */
    fd = make_file("short", 100, 'x');
    char *t = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (t == MAP_FAILED) { perror("mmap short"); return 1; }
    int zeros = 1;
    for (int i = 100; i < PAGE; i++) zeros &= t[i] == 0;
    printf("short: %c%c, zeros after EOF in last page %d\n", t[0], t[99], zeros);
    t[100] = 'Z';  /* beyond EOF: never written to the file */
    t[5] = 'W';
    munmap(t, 3 * PAGE);
    off_t end = lseek(fd, 0, SEEK_END);
    printf("short file size %lld\n", (long long)end);
    show_file(fd, 0, 8, "short file");
    char *u = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("short private: %c%c\n", u[0], u[5]);  /* (past EOF: whatever the page cache holds) */
    munmap(u, 2 * PAGE);
    close(fd);

    /* Read-only descriptor: shared read-only and private read-write both work. */
    fd = open("data", O_RDONLY);
    char *r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    char *w = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (r == MAP_FAILED || w == MAP_FAILED) { perror("mmap rdonly"); return 1; }
    w[0] = '!';
    printf("read-only fd: shared '%.6s' private '%.6s'\n", r + 10, w);
    munmap(r, PAGE);
    munmap(w, PAGE);
    close(fd);

    /* /dev/zero */
    fd = open("/dev/zero", O_RDWR);
    char *z = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    printf("/dev/zero private: %s\n", z != MAP_FAILED && z[0] == 0 && z[2 * PAGE - 1] == 0 ? "zeros" : "bad");
    z[0] = 1;
    char *z2 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("/dev/zero shared: %s\n", z2 != MAP_FAILED && z2[0] == 0 ? "zeros" : "bad");
    close(fd);
    return 0;
}
