/* A client for the Python grate tests: each mode makes a small, known sequence of calls. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(int e) {
    switch (e) {
    case EROFS: return "EROFS";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EIO: return "EIO";
    default: return "other";
    }
}

static void report(const char *what, int rc) {
    if (rc < 0) printf("%s: %s\n", what, err(errno));
    else printf("%s: ok\n", what);
}

static int opened(const char *path, int flags) {
    int fd = open(path, flags, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

static int trace(void) {
    char buf[100];
    int fd = open("/in.txt", O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    int bad = open("/missing", O_RDONLY);
    write(1, "done\n", 5);
    return n == 3 && bad == -1 ? 0 : 1;
}

static int fs(void) {
    char buf[32] = {0};
    int fd = open("ro/f.txt", O_RDONLY);
    report("read ro/f.txt", fd >= 0 && read(fd, buf, sizeof buf - 1) > 0 ? 0 : -1);
    if (fd >= 0) close(fd);
    report("open ro/f.txt O_WRONLY", opened("ro/f.txt", O_WRONLY));
    report("open ro/f.txt O_RDWR", opened("ro/f.txt", O_RDWR));
    report("create ro/new", opened("ro/new", O_CREAT | O_WRONLY));
    report("unlink ro/f.txt", unlink("ro/f.txt"));
    report("mkdir ro/d", mkdir("ro/d", 0755));
    report("rmdir ro/sub", rmdir("ro/sub"));
    report("rename ro/f.txt rw/x", rename("ro/f.txt", "rw/x"));
    report("rename rw/y ro/y", rename("rw/y", "ro/y"));
    report("open rw/link O_WRONLY", opened("rw/link", O_WRONLY));
    report("create rw/new", opened("rw/new", O_CREAT | O_WRONLY));
    report("mkdir rw/d", mkdir("rw/d", 0755));
    report("rename rw/new rw/d/moved", rename("rw/new", "rw/d/moved"));
    report("unlink rw/d/moved", unlink("rw/d/moved"));
    report("rmdir rw/d", rmdir("rw/d"));
    report("chdir ro", chdir("ro"));
    report("open f.txt O_WRONLY", opened("f.txt", O_WRONLY));
    report("open ../rw/y O_WRONLY", opened("../rw/y", O_WRONLY));
    return 0;
}

static int mem(void) {
    char cwd[64];
    printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "(error)");
    char buf[32] = {0};
    int fd = open("/alias", O_RDONLY);
    if (fd < 0) {
        printf("open /alias: %s\n", err(errno));
    } else {
        read(fd, buf, sizeof buf - 1);
        close(fd);
        printf("alias holds [%s]\n", buf);
    }
    write(1, "hello, grate\n", 13);
    return 0;
}

static int forked(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child uid=%u\n", (unsigned)getuid());
        return 0;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("parent uid=%u child status=%d\n", (unsigned)getuid(), status);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IONBF, 0); /* a killed cage loses nothing it printed */
    if (!strcmp(mode, "trace")) return trace();
    if (!strcmp(mode, "fs")) return fs();
    if (!strcmp(mode, "mem")) return mem();
    if (!strcmp(mode, "fork")) return forked();
    if (!strcmp(mode, "uid")) {
        printf("uid=%u\n", (unsigned)getuid());
        return 0;
    }
    fprintf(stderr, "usage: grate_client trace|fs|mem|fork|uid\n");
    return 2;
}
