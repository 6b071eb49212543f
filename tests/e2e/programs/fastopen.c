/* open and close as the compiled trampoline may answer them itself (a regular file inside the
 * root, plain flags, a normal path; close of a description only this descriptor names), at the
 * edges where it must give way or get every detail right: lowest free numbers after closes,
 * close of a dup'd or forked descriptor, a POSIX lock released by closing another descriptor of
 * the file, O_CREAT/O_EXCL/O_APPEND/O_TRUNC/O_CLOEXEC, umask, errors, paths with "..", "//" and
 * "." or relative to a cwd, directories and FIFOs, RLIMIT_NOFILE. Run in a scratch directory;
 * the output is compared with the native build's.
 *
 *   fastopen          the checks
 *   fastopen exec F   (the exec'd image) is descriptor F open?
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #x, errno); exit(1); } } while (0)

static void result(const char *what, long r) {
    printf("%s: %ld errno=%d\n", what, r, r < 0 ? errno : 0);
    errno = 0;
}

static void show(const char *what, int fd, size_t n) {
    char buf[64] = {0};
    errno = 0;
    ssize_t r = read(fd, buf, n);
    printf("%s: %zd '%s' errno=%d\n", what, r, r > 0 ? buf : "", errno);
}

static void make(const char *name, const char *text) {
    int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(close(fd) == 0);
}

static void lock_state(const char *what, const char *name) {
    /* a child asks whether any process holds a lock on the file (F_GETLK answers for others) */
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open(name, O_RDWR);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        CHECK(fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0);
        printf("%s: %s\n", what, fl.l_type == F_UNLCK ? "unlocked" : "locked");
        fflush(stdout);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "exec") == 0) {
        result("exec: fcntl F_GETFD of the O_CLOEXEC fd", fcntl(atoi(argv[2]), F_GETFD));
        return 0;
    }
    umask(022);
    make("a.txt", "AAAAaaaa");
    make("b.txt", "BBBBbbbb");

    /* numbering: the lowest free number, after closes in any order */
    int a = open("a.txt", O_RDONLY), b = open("b.txt", O_RDONLY), c = open("a.txt", O_RDWR);
    CHECK(a >= 0 && b == a + 1 && c == b + 1);
    CHECK(close(b) == 0);
    int d = open("b.txt", O_RDONLY);
    printf("reopened in the hole: %d\n", d == b);
    show("the hole's file", d, 4);
    result("close twice (first)", close(d));
    result("close twice (second)", close(d));
    result("close of a never-open number", close(200));
    result("close of a negative number", close(-1));
    CHECK(close(a) == 0 && close(c) == 0);
    printf("lowest again: %d\n", open("a.txt", O_RDONLY) == a);
    CHECK(close(a) == 0);

    /* close of a shared description: the other descriptor keeps it and its offset */
    a = open("a.txt", O_RDONLY);
    show("a read 2", a, 2);
    int dup_a = dup(a);
    CHECK(dup_a >= 0);
    result("close the original", close(a));
    show("the dup reads on", dup_a, 2);
    result("lseek the dup", lseek(dup_a, 0, SEEK_CUR));
    CHECK(close(dup_a) == 0);

    /* fork: the child closes its descriptor, the parent's still works at the shared offset */
    a = open("a.txt", O_RDONLY);
    show("before fork", a, 1);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        show("child", a, 1);
        result("child closes", close(a));
        result("child reads the closed fd", read(a, (char[4]){0}, 1));
        int again = open("b.txt", O_RDONLY);
        printf("child reopens at the number: %d\n", again == a);
        fflush(stdout);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    show("parent after the child's close", a, 2);
    result("parent closes", close(a));

    /* POSIX locks: closing any descriptor of the file releases the process's locks on it */
    int l1 = open("a.txt", O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    CHECK(l1 >= 0 && fcntl(l1, F_SETLK, &fl) == 0);
    lock_state("after F_SETLK", "a.txt");
    int l2 = open("a.txt", O_RDONLY);
    CHECK(l2 >= 0);
    result("close another fd of the locked file", close(l2));
    lock_state("after closing the other fd", "a.txt");
    CHECK(close(l1) == 0);

    /* flock: the last close of the description releases it */
    int f1 = open("a.txt", O_RDONLY);
    CHECK(f1 >= 0 && flock(f1, LOCK_EX) == 0);
    int f2 = open("a.txt", O_RDONLY);
    result("flock of another description while held", flock(f2, LOCK_EX | LOCK_NB));
    result("close the holder", close(f1));
    result("flock after the holder's close", flock(f2, LOCK_EX | LOCK_NB));
    CHECK(close(f2) == 0);

    /* /proc/self/fd names a descriptor the fast open made, and forgets it once closed */
    int pf = open("a.txt", O_RDONLY);
    char link[64], target[256] = {0};
    snprintf(link, sizeof link, "/proc/self/fd/%d", pf);
    ssize_t tl = readlink(link, target, sizeof target - 1);
    printf("/proc/self/fd link ends with /a.txt: %d\n",
           tl >= 6 && strcmp(target + tl - 6, "/a.txt") == 0);
    CHECK(close(pf) == 0);
    printf("/proc/self/fd link gone after close: %d\n", readlink(link, target, 255) < 0);

    /* creating: O_EXCL, the mode under the umask, O_APPEND, O_TRUNC */
    int n = open("new.txt", O_CREAT | O_EXCL | O_WRONLY, 0666);
    CHECK(n >= 0);
    struct stat st;
    CHECK(fstat(n, &st) == 0);
    printf("new file mode: %o\n", (unsigned)(st.st_mode & 07777));
    result("write new", write(n, "123", 3));
    CHECK(close(n) == 0);
    result("O_EXCL again", open("new.txt", O_CREAT | O_EXCL | O_WRONLY, 0666));
    n = open("new.txt", O_WRONLY | O_APPEND);
    result("lseek 0", lseek(n, 0, SEEK_SET));
    result("appending write", write(n, "45", 2));
    result("offset after the append", lseek(n, 0, SEEK_CUR));
    CHECK(close(n) == 0);
    n = open("new.txt", O_RDONLY);
    show("new.txt", n, 10);
    CHECK(close(n) == 0);
    n = open("new.txt", O_RDWR | O_TRUNC);
    CHECK(fstat(n, &st) == 0);
    printf("size after O_TRUNC: %ld\n", (long)st.st_size);
    CHECK(close(n) == 0);
    result("O_RDONLY write", write(n = open("a.txt", O_RDONLY), "x", 1));
    CHECK(close(n) == 0);
    result("O_WRONLY read", read(n = open("a.txt", O_WRONLY), (char[4]){0}, 1));
    CHECK(close(n) == 0);

    /* errors */
    result("missing", open("missing.txt", O_RDONLY));
    result("missing dir", open("nodir/x", O_RDONLY));
    result("file as dir", open("a.txt/x", O_RDONLY));
    result("empty path", open("", O_RDONLY));
    CHECK(symlink("a.txt", "link") == 0);
    result("O_NOFOLLOW on a symlink", open("link", O_RDONLY | O_NOFOLLOW));
    n = open("link", O_RDONLY);
    show("through the symlink", n, 3);
    CHECK(close(n) == 0);

    /* paths: relative to a cwd, "..", "//", "." */
    CHECK(mkdir("sub", 0755) == 0);
    make("sub/s.txt", "SSSS");
    CHECK(chdir("sub") == 0);
    n = open("s.txt", O_RDONLY);
    show("relative in sub", n, 4);
    CHECK(close(n) == 0);
    n = open("../a.txt", O_RDONLY);
    show("../a.txt", n, 4);
    CHECK(close(n) == 0);
    n = open("./s.txt", O_RDONLY);
    show("./s.txt", n, 4);
    CHECK(close(n) == 0);
    CHECK(chdir("..") == 0);
    n = open("sub//s.txt", O_RDONLY);
    show("sub//s.txt", n, 4);
    CHECK(close(n) == 0);
    n = open("sub/../b.txt", O_RDONLY);
    show("sub/../b.txt", n, 4);
    CHECK(close(n) == 0);

    /* not regular files: a directory (without O_DIRECTORY), a FIFO */
    n = open("sub", O_RDONLY);
    CHECK(n >= 0 && fstat(n, &st) == 0);
    printf("sub is a directory: %d\n", S_ISDIR(st.st_mode));
    result("read a directory", read(n, (char[4]){0}, 1));
    CHECK(close(n) == 0);
    result("sub O_WRONLY", open("sub", O_WRONLY));
    CHECK(mkfifo("fifo", 0644) == 0);
    n = open("fifo", O_RDONLY | O_NONBLOCK);
    CHECK(n >= 0 && fstat(n, &st) == 0);
    printf("fifo is a FIFO: %d\n", S_ISFIFO(st.st_mode));
    result("close the fifo", close(n));

    /* O_CLOEXEC: gone after exec */
    int gone = open("a.txt", O_RDONLY | O_CLOEXEC);
    CHECK(gone >= 0);
    result("F_GETFD of the O_CLOEXEC fd", fcntl(gone, F_GETFD));
    char gs[16];
    snprintf(gs, sizeof gs, "%d", gone);
    fflush(stdout);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char *args[] = {"fastopen", "exec", gs, NULL};
        execv("./fastopen", args);
        printf("execv: %s\n", strerror(errno));
        _exit(1);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(close(gone) == 0);

    /* RLIMIT_NOFILE: EMFILE at the limit, and a number freed by close is taken again */
    struct rlimit rl = {8, 8};
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    int fds[16], opened = 0;
    for (int i = 0; i < 16; i++) {
        fds[i] = open("a.txt", O_RDONLY);
        if (fds[i] < 0) {
            result("open at the limit", fds[i]);
            break;
        }
        opened++;
    }
    printf("opened below the limit: %d (last %d)\n", opened, fds[opened - 1]);
    CHECK(close(fds[2]) == 0);
    printf("a freed number is reused: %d\n", open("a.txt", O_RDONLY) == fds[2]);

    unlink("a.txt");
    unlink("b.txt");
    unlink("new.txt");
    unlink("link");
    unlink("fifo");
    unlink("sub/s.txt");
    rmdir("sub");
    return 0;
}
