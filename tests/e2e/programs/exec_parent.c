/* execve with arguments and environment; cloexec across exec; exec failures */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    (void)argc; (void)argv;
    errno = 0;
    char *none[] = {"missing", NULL};
    int rc = execv("./no-such-program", none);
    printf("missing: %d ENOENT=%d\n", rc, errno == ENOENT);
    int fd = open("marker.txt", O_CREAT | O_WRONLY, 0600);
    rc = execv("./marker.txt", none);
    printf("not executable: %d EACCES=%d\n", rc, errno == EACCES);
    int keep = open("marker.txt", O_RDONLY);
    int drop = open("marker.txt", O_RDONLY | O_CLOEXEC);
    dup2(keep, 10);
    dup2(drop, 11);
    fcntl(11, F_SETFD, FD_CLOEXEC);
    close(fd);
    printf("exec now\n");
    fflush(stdout);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    char *args[] = {"exec_target", "first arg", pid, NULL};
    char *env[] = {"GREETING=hi there", "OTHER=1", NULL};
    execve("./exec_target", args, env);
    perror("execve");
    return 99;
}
