/* File mappings across fork: a MAP_SHARED file mapping stays shared with the child (the child
 * writes, the parent and the file see it; the parent writes, the child sees it); a MAP_PRIVATE
 * file mapping is copied (the child's writes stay in the child); a child that unmaps its view
 * leaves the parent's; after everyone exits the file holds every shared write. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static void wait_child(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
        printf("child failed\n");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);  /* the pipes order the lines */
    int fd = open("shared.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
    static char zeros[4 * PAGE];
    if (fd < 0 || write(fd, zeros, sizeof zeros) != sizeof zeros) { perror("file"); return 1; }
    if (pwrite(fd, "original", 8, 0) != 8) return 1;
    char *sh = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *pv = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (sh == MAP_FAILED || pv == MAP_FAILED) { perror("mmap"); return 1; }
    close(fd);
    int to_child[2], to_parent[2];
    if (pipe(to_child) || pipe(to_parent)) return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        printf("child sees: '%.8s' '%.8s'\n", sh, pv);
        memcpy(sh + PAGE, "from-child", 10);
        memcpy(pv, "PRIVCHLD", 8);
        if (msync(sh, 4 * PAGE, MS_SYNC)) perror("child msync");
        if (write(to_parent[1], "x", 1) != 1) _exit(2);
        if (read(to_child[0], &c, 1) != 1) _exit(3);
        printf("child sees the parent's write: '%.11s'\n", sh + 2 * PAGE);
        if (munmap(sh, PAGE)) _exit(4);  /* only the child's view */
        memcpy(sh + 3 * PAGE, "child-last", 10);
        fflush(stdout);
        _exit(0);
    }
    char c;
    if (read(to_parent[0], &c, 1) != 1) return 1;
    printf("parent sees: '%.10s', private '%.8s'\n", sh + PAGE, pv);
    memcpy(sh + 2 * PAGE, "from-parent", 11);
    if (write(to_child[1], "y", 1) != 1) return 1;
    wait_child(pid);
    printf("parent still maps page 0: '%.8s', child's last write '%.10s'\n", sh, sh + 3 * PAGE);
    pid = fork();
    if (pid == 0) {  /* a second child writes and exits without msync or munmap */
        memcpy(sh + 100, "exit-writeback", 14);
        _exit(write(to_parent[1], "z", 1) != 1);
    }
    if (read(to_parent[0], &c, 1) != 1) return 1;
    wait_child(pid);
    if (munmap(sh, 4 * PAGE) || munmap(pv, 2 * PAGE)) perror("munmap");
    fd = open("shared.dat", O_RDONLY);
    char buf[4 * PAGE];
    if (read(fd, buf, sizeof buf) != sizeof buf) { perror("read"); return 1; }
    printf("file: '%.8s' '%.14s' '%.10s' '%.11s' '%.10s'\n", buf, buf + 100, buf + PAGE,
           buf + 2 * PAGE, buf + 3 * PAGE);
    return 0;
}
