/* Cage-only (natively the touches below raise SIGBUS): a file mapped shared, then shrunk by
 * ftruncate, truncate or open(O_TRUNC), in this cage and in a fork child that inherited the
 * mapping. Pages past the new end must read as zeros instead of killing the microvisor; pages
 * within it keep sharing the file. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static char *map_file(const char *name, int *fd_out) {
    static char buf[4 * PAGE];
    memset(buf, 'f', sizeof buf);
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf) return NULL;
    char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    *fd_out = fd;
    return p == MAP_FAILED ? NULL : p;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd;
    char *p = map_file("a.dat", &fd);
    if (!p) { perror("map"); return 1; }
    if (ftruncate(fd, PAGE + 10)) perror("ftruncate");
    p[3 * PAGE] = 'x';
    printf("ftruncate: kept %c %c, past the end %d %c\n", p[0], p[PAGE + 9], p[2 * PAGE],
           p[3 * PAGE]);
    p[5] = 'S';
    char c = 0;
    pread(fd, &c, 1, 5);
    printf("still shared: %c\n", c);

    char *q = map_file("b.dat", &fd);
    if (!q) return 1;
    if (truncate("b.dat", 0)) perror("truncate");
    printf("truncate: past the end %d %d\n", q[0], q[3 * PAGE + 7]);

    char *r = map_file("c.dat", &fd);
    if (!r) return 1;
    int fd2 = open("c.dat", O_RDWR | O_TRUNC);
    printf("open(O_TRUNC) %d: past the end %d\n", fd2 >= 0, r[PAGE]);

    /* a fork child inherits the mapping; the parent shrinks the file; the child touches it */
    char *s = map_file("d.dat", &fd);
    if (!s) return 1;
    int ready[2], done[2];
    if (pipe(ready) || pipe(done)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        char go;
        if (read(ready[0], &go, 1) != 1) _exit(2);
        printf("child after the parent's ftruncate: %c %d\n", s[0], s[2 * PAGE]);
        _exit(0);
    }
    if (ftruncate(fd, 10)) perror("ftruncate d");
    if (write(ready[1], "g", 1) != 1) return 1;
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
