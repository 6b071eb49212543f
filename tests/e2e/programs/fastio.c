/* The small-I/O calls the compiled trampoline may answer itself (read, write, pread64, pwrite64,
 * lseek on regular files and /dev/null), at the edges where it must give way: dup2 over the fd,
 * close, fork (a shared offset), exec (O_CLOEXEC), bad pointers, O_APPEND, F_SETFL, end of file.
 *
 *   fastio            the checks compared with the native build (run in a scratch directory)
 *   fastio exec R K   (the exec'd image) R was O_CLOEXEC, K was kept at a shared offset
 *   fastio cage-only  what a cage answers where Linux cannot be compared (/dev/null and ranges
 *                     past the cage's memory: EFAULT in a cage, Linux never looks at them)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #x, errno); exit(1); } } while (0)

static void make(const char *name, const char *text) {
    int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(close(fd) == 0);
}

static void show(const char *what, int fd, size_t n) {
    char buf[64] = {0};
    errno = 0;
    ssize_t r = read(fd, buf, n);
    printf("%s: %zd '%s' errno=%d\n", what, r, r > 0 ? buf : "", errno);
}

static void result(const char *what, ssize_t r) {
    printf("%s: %zd errno=%d\n", what, r, r < 0 ? errno : 0);
    errno = 0;
}

static int exec_image(int argc, char **argv) {
    int r = atoi(argv[2]), k = atoi(argv[3]);
    show("exec: the O_CLOEXEC fd", r, 4);
    show("exec: the kept fd", k, 4);
    result("exec: lseek kept", lseek(k, 0, SEEK_CUR));
    (void)argc;
    return 0;
}

static void cage_only(void) {
    char buf[16];
    int null = open("/dev/null", O_RDWR);
    CHECK(null >= 0);
    result("null write NULL", write(null, NULL, 4));
    result("null read NULL", read(null, NULL, 4));
    result("null write past memory", write(null, (void *)0xFFFFFFF0, 100));
    result("null read past memory", read(null, (void *)0xFFFFFFF0, 100));
    result("null pwrite past memory", pwrite(null, (void *)0xFFFFFFF0, 100, 0));
    result("null write of nothing at NULL", write(null, NULL, 0));
    result("null write", write(null, buf, sizeof buf));
    result("null pread negative", pread(null, buf, 4, -1));
    result("null lseek", lseek(null, 12, SEEK_SET));
    result("null lseek bad whence", lseek(null, 0, 77));
    make("c.txt", "0123456789");
    int fd = open("c.txt", O_RDWR);
    CHECK(fd >= 0);
    result("file read past memory", read(fd, (void *)0xFFFFFF00, 0x1000));
    result("file write past memory", write(fd, (void *)0xFFFFFF00, 0x1000));
    result("file read count past memory", read(fd, buf, 0xFFFFFFFFu));
    result("offset unmoved", lseek(fd, 0, SEEK_CUR));
    close(fd);
    close(null);
    unlink("c.txt");
}

int main(int argc, char **argv) {
    if (argc > 3 && strcmp(argv[1], "exec") == 0) return exec_image(argc, argv);
    if (argc > 1 && strcmp(argv[1], "cage-only") == 0) {
        cage_only();
        return 0;
    }
    char buf[64];
    make("a.txt", "AAAAaaaa");
    make("b.txt", "BBBBbbbbBBBB");

    /* lseek + read, writes that move the offset, reads at and past the end */
    int a = open("a.txt", O_RDWR);
    CHECK(a >= 0);
    show("read 4", a, 4);
    result("lseek cur", lseek(a, 0, SEEK_CUR));
    result("lseek set 2", lseek(a, 2, SEEK_SET));
    show("read after lseek", a, 3);
    result("lseek cur -1", lseek(a, -1, SEEK_CUR));
    result("lseek negative", lseek(a, -100, SEEK_CUR));
    result("lseek end", lseek(a, 0, SEEK_END));
    show("read at end", a, 4);
    result("write at end", write(a, "zz", 2));
    result("lseek set 6", lseek(a, 6, SEEK_SET));
    show("read to the end", a, 10);
    result("pwrite", pwrite(a, "P", 1, 0));
    result("pread negative", pread(a, buf, 1, -5));
    memset(buf, 0, sizeof buf);
    result("pread", pread(a, buf, 5, 0));
    printf("pread got '%s'\n", buf);
    result("offset after pread/pwrite", lseek(a, 0, SEEK_CUR));
    result("read of nothing", read(a, buf, 0));
    result("lseek past the end", lseek(a, 100, SEEK_SET));
    show("read past the end", a, 4);
    result("lseek 0", lseek(a, 0, SEEK_SET));

    /* bad pointers on a regular file: EFAULT, nothing moved */
    result("read NULL", read(a, NULL, 4));
    result("write NULL", write(a, NULL, 4));
    result("pread NULL", pread(a, NULL, 4, 0));
    result("pwrite NULL", pwrite(a, NULL, 4, 0));
    result("read unmapped", read(a, (void *)0xFFFFFFF0, 4));
    result("offset after bad pointers", lseek(a, 0, SEEK_CUR));

    /* dup2 over the fd: reads follow the new description */
    int b = open("b.txt", O_RDONLY);
    CHECK(b >= 0);
    show("b read", b, 4);
    CHECK(dup2(b, a) == a);
    show("a after dup2(b, a) shares b's offset", a, 4);
    result("write to the read-only dup", write(a, "x", 1));
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "pipe", 4) == 4);
    CHECK(dup2(p[0], a) == a);
    show("a after dup2(pipe, a)", a, 4);
    result("lseek on the pipe", lseek(a, 0, SEEK_SET));
    close(p[0]);
    close(p[1]);

    /* close, then the same number for another file */
    CHECK(close(a) == 0);
    show("read after close", a, 4);
    result("write after close", write(a, "x", 1));
    result("lseek after close", lseek(a, 0, SEEK_SET));
    int again = open("a.txt", O_RDONLY);
    printf("reopened as the same number: %d\n", again == a);
    show("read the reopened", again, 4);
    close(again);

    /* F_SETFL O_APPEND on the description: writes append from then on */
    int w = open("a.txt", O_WRONLY);
    CHECK(w >= 0);
    result("write at 0", write(w, "w", 1));
    CHECK(fcntl(w, F_SETFL, O_APPEND) == 0);
    result("write appended", write(w, "!", 1));
    result("offset after the append", lseek(w, 0, SEEK_CUR));
    CHECK(fcntl(w, F_SETFL, 0) == 0);
    result("lseek 1", lseek(w, 1, SEEK_SET));
    result("write at 1", write(w, "x", 1));
    show("read the write-only fd", w, 4);
    close(w);
    int r = open("a.txt", O_RDONLY);
    memset(buf, 0, sizeof buf);
    result("whole file", read(r, buf, sizeof buf - 1));
    printf("a.txt is '%s'\n", buf);
    close(r);

    /* fork: parent and child share the description and its offset */
    int s = open("b.txt", O_RDONLY);
    CHECK(s >= 0);
    show("before fork", s, 2);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        show("child", s, 2);
        lseek(s, 8, SEEK_SET);
        fflush(stdout);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    show("parent after the child's read and lseek", s, 4);

    /* /dev/null */
    int null = open("/dev/null", O_WRONLY);
    CHECK(null >= 0);
    result("null write", write(null, "hello", 5));
    result("null pwrite", pwrite(null, "hello", 5, 7));
    result("null lseek", lseek(null, 5, SEEK_SET));
    result("null read of a write-only fd", read(null, buf, 4));
    close(null);
    null = open("/dev/null", O_RDONLY);
    show("null read", null, 4);
    result("null write to a read-only fd", write(null, "x", 1));
    close(null);

    /* exec: the O_CLOEXEC fd is gone, the other keeps its shared offset */
    int gone = open("b.txt", O_RDONLY | O_CLOEXEC);
    int kept = open("b.txt", O_RDONLY);
    CHECK(gone >= 0 && kept >= 0);
    show("kept before exec", kept, 2);
    char rs[16], ks[16];
    snprintf(rs, sizeof rs, "%d", gone);
    snprintf(ks, sizeof ks, "%d", kept);
    fflush(stdout);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char *args[] = {"fastio", "exec", rs, ks, NULL};
        execv("./fastio", args);
        printf("execv: %s\n", strerror(errno));
        _exit(1);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    result("parent's kept offset after the child's exec", lseek(kept, 0, SEEK_CUR));
    show("parent's O_CLOEXEC fd", gone, 2);
    unlink("a.txt");
    unlink("b.txt");
    return 0;
}
