/* vfork: the child _exits or execs while the parent waits. Only what POSIX defines for a vfork
 * child: assigning the pid_t, _exit, exec. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int status;
    printf("vfork + _exit\n");
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) _exit(3);
    printf("new pid %d; ", pid > 0 && pid != getpid());
    waitpid(pid, &status, 0);
    printf("exit %d\n", WEXITSTATUS(status));

    printf("vfork + execve\n");
    fflush(stdout);
    char *args[] = {"exec_target", "from vfork", "0", NULL};
    char *env[] = {"GREETING=vforked", NULL};
    pid = vfork();
    if (pid == 0) {
        execve("./exec_target", args, env);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    printf("exit %d\n", WEXITSTATUS(status));

    pid = vfork();
    if (pid == 0) {
        execve("./no-such-program", args, env);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    printf("failed exec, then _exit %d\n", WEXITSTATUS(status));
    return 0;
}
