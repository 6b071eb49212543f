/* fork + exec of a helper (this program, installed in the root as ./fp_exec) by every way of
 * naming it: a relative path, /proc/self/exe, fexecve, execveat (a descriptor, a directory fd
 * and a name, AT_SYMLINK_NOFOLLOW), posix_spawn; the failures (missing, not executable, a
 * directory, a symlink with AT_SYMLINK_NOFOLLOW); and FD_CLOEXEC across exec, checked by the
 * helper with fcntl(F_GETFD) on descriptors made every way (open, fcntl, dup, F_DUPFD_CLOEXEC,
 * pipe2). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int helper(int argc, char **argv) {
    printf("  helper: %s", argv[2]);
    for (int i = 3; i < argc; i++) {
        int fd = atoi(argv[i]);
        errno = 0;
        int r = fcntl(fd, F_GETFD);
        printf(" fd%d=%s", i - 3, r < 0 ? (errno == EBADF ? "closed" : "error") : "open");
    }
    printf("\n");
    return 40 + argc;
}

static void report(const char *how, pid_t child) {
    int st;
    if (child < 0) {
        printf("%s: fork failed\n", how);
        return;
    }
    waitpid(child, &st, 0);
    if (WIFEXITED(st))
        printf("%s: exited %d\n", how, WEXITSTATUS(st));
    else
        printf("%s: killed by %d\n", how, WTERMSIG(st));
}

static char *args[] = {"fp_exec", "helper", "", NULL};

#define RUN(how, call)                                                                     \
    do {                                                                                   \
        args[2] = how;                                                                     \
        pid_t c_ = fork();                                                                 \
        if (c_ == 0) {                                                                     \
            call;                                                                          \
            printf("  %s failed: errno %d\n", how, errno);                                 \
            _exit(100);                                                                    \
        }                                                                                  \
        report(how, c_);                                                                   \
    } while (0)

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "helper") == 0) return helper(argc, argv);
    setvbuf(stdout, NULL, _IONBF, 0);

    RUN("relative path", execv("./fp_exec", args));
    RUN("/proc/self/exe", execv("/proc/self/exe", args));
    RUN("execvp from PATH", execvp("fp_exec", args));
    RUN("fexecve", fexecve(open("fp_exec", O_RDONLY), args, environ));
    RUN("fexecve O_CLOEXEC", fexecve(open("fp_exec", O_RDONLY | O_CLOEXEC), args, environ));
    RUN("execveat fd", syscall(SYS_execveat, open("fp_exec", O_RDONLY), "", args, environ,
                               AT_EMPTY_PATH));
    mkdir("sub", 0755);
    symlink("../fp_exec", "sub/link");
    int sub = open("sub", O_RDONLY | O_DIRECTORY);
    RUN("execveat dir+name", syscall(SYS_execveat, sub, "link", args, environ, 0));
    RUN("execveat NOFOLLOW", syscall(SYS_execveat, sub, "link", args, environ,
                                     AT_SYMLINK_NOFOLLOW));
    RUN("execveat bad flags", syscall(SYS_execveat, sub, "link", args, environ, 0x4));
    RUN("execveat empty path", syscall(SYS_execveat, sub, "", args, environ, 0));
    RUN("execve via symlink", execv("sub/link", args));
    RUN("missing", execv("./no-such-helper", args));
    int data = open("data.txt", O_CREAT | O_WRONLY, 0644);
    write(data, "not a program\n", 14);
    close(data);
    RUN("not executable", execv("./data.txt", args));
    chmod("data.txt", 0755);
    RUN("not a program", execv("./data.txt", args));
    RUN("a directory", execv("./sub", args));
    RUN("fexecve of a pipe", ({ int p_[2]; pipe(p_); fexecve(p_[0], args, environ); }));

    pid_t spawned;
    args[2] = "posix_spawn";
    int rc = posix_spawn(&spawned, "./fp_exec", NULL, NULL, args, environ);
    if (rc == 0) report("posix_spawn", spawned); /* the helper's line comes first: wait */
    printf("posix_spawn rc %d\n", rc);

    /* FD_CLOEXEC across exec, descriptors made every way */
    int plain = open("data.txt", O_RDONLY);
    int oc = open("data.txt", O_RDONLY | O_CLOEXEC);
    int set = open("data.txt", O_RDONLY);
    fcntl(set, F_SETFD, FD_CLOEXEC);
    int unset = open("data.txt", O_RDONLY | O_CLOEXEC);
    fcntl(unset, F_SETFD, 0);
    int duped = dup(oc);
    int dupcl = fcntl(plain, F_DUPFD_CLOEXEC, 20);
    int p[2];
    pipe2(p, O_CLOEXEC);
    int d3 = dup3(p[0], 30, O_CLOEXEC);
    int d2 = dup2(oc, 31);
    printf("parent: F_GETFD plain %d oc %d set %d unset %d dup %d dupfd_cloexec %d pipe2 %d "
           "dup3 %d dup2 %d\n",
           fcntl(plain, F_GETFD), fcntl(oc, F_GETFD), fcntl(set, F_GETFD), fcntl(unset, F_GETFD),
           fcntl(duped, F_GETFD), fcntl(dupcl, F_GETFD), fcntl(p[1], F_GETFD),
           fcntl(d3, F_GETFD), fcntl(d2, F_GETFD));
    int fds[] = {plain, oc, set, unset, duped, dupcl, p[0], p[1], d3, d2};
    char *cargs[16] = {"fp_exec", "helper", "cloexec"};
    char nums[10][12];
    for (int i = 0; i < 10; i++) {
        snprintf(nums[i], sizeof nums[i], "%d", fds[i]);
        cargs[3 + i] = nums[i];
    }
    cargs[13] = NULL;
    pid_t c = fork();
    if (c == 0) {
        execv("./fp_exec", cargs);
        _exit(100);
    }
    report("cloexec", c);
    /* and through posix_spawn */
    rc = posix_spawn(&spawned, "./fp_exec", NULL, NULL, cargs, environ);
    if (rc == 0) report("cloexec spawn", spawned);
    /* the parent's own descriptors are untouched */
    printf("parent after: oc %d set %d\n", fcntl(oc, F_GETFD), fcntl(set, F_GETFD));
    return 0;
}
