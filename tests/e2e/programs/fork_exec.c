/* fork + exec + wait, passing arguments and environment */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    pid_t pid = fork();
    if (pid == 0) {
        char *args[] = {"exec_target", "from fork_exec", "0", NULL};
        char *env[] = {"GREETING=from the parent", NULL};
        execve("./exec_target", args, env);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child exec'd and exited %d\n", WEXITSTATUS(status));
    return 0;
}
