/* Signals and a killed child for the strace grate's comparison with real `strace -f`
 * (tests/e2e/test_strace_format.py): a child killed while blocked in read(), its SIGCHLD, and a
 * signal a process sends itself. Calls are made with syscall() so glibc and lind-musl agree. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int signo) { got = signo; }

int main(void) {
    int never[2], ready[2], status = 0;
    char byte;
    struct timespec pause = {0, 50 * 1000 * 1000};

    signal(SIGUSR1, on_usr1);
    pipe(never);
    pipe(ready);
    syscall(SYS_openat, -100, "strace-begin", 0); /* marker: ENOENT */
    pid_t child = fork();
    if (child == 0) {
        syscall(SYS_write, ready[1], "r", 1);
        syscall(SYS_read, never[0], &byte, 1); /* blocks until killed */
        syscall(SYS_exit_group, 9);
    }
    syscall(SYS_read, ready[0], &byte, 1); /* the child is about to block */
    nanosleep(&pause, NULL);
    syscall(SYS_kill, child, SIGKILL);
    syscall(SYS_wait4, child, &status, 0, NULL);
    syscall(SYS_kill, getpid(), SIGUSR1);
    syscall(SYS_openat, -100, "strace-end", 0); /* marker: ENOENT */
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && got == SIGUSR1 ? 0 : 1;
}
