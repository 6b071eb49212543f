/* Descriptors of files in argv[1] (/tmp under `namespace:/tmp=memfs`) are the cage's own:
   the lowest free number, shared with pipes; dup2, F_DUPFD, F_SETFD, close and fork act on them
   as on any descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int opened(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return open(path, O_CREAT | O_RDWR, 0644);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int a = opened(dir, "a"), b = opened(dir, "b"), c = opened(dir, "c");
    printf("three files: %d %d %d\n", a, b, c);
    close(b);
    int p[2];
    pipe(p);
    printf("a pipe takes the lowest free numbers: %d %d\n", p[0], p[1]);
    close(a);
    int d = opened(dir, "d");
    printf("a file takes the lowest free number: %d\n", d);
    write(d, "0123456789", 10);

    int high = dup2(d, 10);
    lseek(high, 2, SEEK_SET);
    char two[3] = {0};
    read(d, two, 2);
    printf("dup2(d, 10): %d, shares the offset: %s\n", high, two);
    printf("F_DUPFD from 20: %d\n", fcntl(d, F_DUPFD, 20));
    printf("F_DUPFD from 0: %d\n", fcntl(d, F_DUPFD, 0));
    printf("F_GETFD: %d", fcntl(d, F_GETFD));
    fcntl(d, F_SETFD, FD_CLOEXEC);
    printf(", after F_SETFD: %d\n", fcntl(d, F_GETFD));
    printf("F_GETFL access mode is O_RDWR: %d\n", (fcntl(d, F_GETFL) & O_ACCMODE) == O_RDWR);
    close(high);
    ssize_t n = read(high, two, 1);
    printf("read after close: %zd (%s)\n", n, n < 0 ? strerror(errno) : "");

    dup2(p[1], c);  /* the number is a pipe's now */
    write(c, "via c", 5);
    char five[6] = {0};
    read(p[0], five, 5);
    printf("dup2 of a pipe over a file: %s\n", five);

    lseek(d, 0, SEEK_SET);
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        read(d, two, 2);
        printf("child reads: %s\n", two);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    read(d, two, 2);
    printf("parent reads after the child: %s\n", two);
    printf("next: %d\n", opened(dir, "e"));
    return 0;
}
