/* A few deterministic system calls for the strace grate's comparison with real `strace -f`
 * (tests/e2e/test_strace_format.py). The calls are made with syscall() so that glibc (native)
 * and lind-musl (cage) issue the same ones; the markers bracket them in both traces. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int main(void) {
    struct stat st;
    struct termios tio;
    char buf[64];
    int pipefd[2], queued = 0, status = 0;

    syscall(SYS_openat, AT_FDCWD, "strace-begin", O_RDONLY); /* marker: ENOENT */
    int fd = syscall(SYS_openat, AT_FDCWD, "data.txt", O_RDONLY | O_CLOEXEC);
    syscall(SYS_fstat, fd, &st);
    syscall(SYS_newfstatat, AT_FDCWD, "data.txt", &st, 0);
    syscall(SYS_newfstatat, AT_FDCWD, "missing.txt", &st, AT_SYMLINK_NOFOLLOW);
    syscall(SYS_read, fd, buf, sizeof buf);
    syscall(SYS_ioctl, fd, TCGETS, &tio); /* not a tty: ENOTTY */
    syscall(SYS_pipe2, pipefd, O_CLOEXEC);
    syscall(SYS_write, pipefd[1], "queued\n", 7);
    syscall(SYS_ioctl, pipefd[0], FIONREAD, &queued);
    syscall(SYS_lseek, fd, 2, SEEK_SET);
    syscall(SYS_fcntl, fd, F_GETFD);
    syscall(SYS_fcntl, pipefd[0], F_SETFD, 0);
    syscall(SYS_fcntl, pipefd[0], F_GETFD);
    syscall(SYS_close, fd);
    pid_t child = fork();
    if (child == 0) {
        char *argv[] = {"no-such-program", "an argument", NULL};
        char *envp[] = {"ONLY=1", NULL};
        syscall(SYS_execve, "./no-such-program", argv, envp); /* ENOENT */
        syscall(SYS_exit_group, 3);
    }
    syscall(SYS_wait4, child, &status, 0, NULL);
    syscall(SYS_write, 1, "done\n", 5);
    long unknown = syscall(9999, 1, 2); /* no such call: ENOSYS, traced or not */
    int unknown_errno = errno;
    syscall(SYS_openat, AT_FDCWD, "strace-end", O_RDONLY); /* marker: ENOENT */
    if (unknown != -1 || unknown_errno != ENOSYS)
        return 2;
    return WIFEXITED(status) && WEXITSTATUS(status) == 3 ? 0 : 1;
}
