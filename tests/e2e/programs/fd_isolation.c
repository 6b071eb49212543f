/* fd tables are per process: the parent brute-forces fds 0..1023 with fcntl(F_GETFD) while a
 * child holds fds of its own and after it exited, and sees only its own (EBADF for the rest); a
 * child cannot reach fds the parent opened after the fork; a posix_spawn child's file actions
 * leave the parent's table alone. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void scan(const char *who) {
    int others = 0;
    printf("%s:", who);
    for (int fd = 0; fd < 1024; fd++) {
        errno = 0;
        if (fcntl(fd, F_GETFD) >= 0) printf(" %d", fd);
        else if (errno != EBADF) others++;
    }
    printf(" (errors other than EBADF: %d)\n", others);
    fflush(stdout);
}

int main(void) {
    int a = open("before_fork.txt", O_CREAT | O_RDWR, 0600);
    int p2c[2], c2p[2];
    pipe(p2c);
    pipe(c2p);
    char byte;
    printf("parent opened %d, pipes %d %d %d %d\n", a, p2c[0], p2c[1], c2p[0], c2p[1]);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p2c[1]);
        close(c2p[0]);
        int f = open("child.txt", O_CREAT | O_RDWR, 0600);
        dup2(f, 100);
        dup2(f, 500);
        dup2(f, 1023);
        int g = dup(f);
        printf("child opened %d and %d\n", f, g);
        scan("child sees");
        write(c2p[1], "x", 1);
        read(p2c[0], &byte, 1);
        errno = 0;
        printf("child: the parent's later fd 700: EBADF %d\n",
               fcntl(700, F_GETFD) == -1 && errno == EBADF);
        scan("child sees");
        exit(0);
    }
    close(p2c[0]);
    close(c2p[1]);
    read(c2p[0], &byte, 1);
    scan("parent while the child holds fds");
    int b = open("after_fork.txt", O_CREAT | O_RDWR, 0600);
    dup2(b, 700);
    close(b);
    write(p2c[1], "x", 1);
    int status;
    waitpid(pid, &status, 0);
    scan("parent after the child exited");

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 900, "spawned.txt", O_CREAT | O_WRONLY, 0600);
    posix_spawn_file_actions_adddup2(&fa, 700, 901);
    posix_spawn_file_actions_addclose(&fa, a);
    char *argv[] = {"exec_target", NULL};
    char *env[] = {NULL};
    int rc = posix_spawn(&pid, "./exec_target", &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    printf("spawned: %d\n", rc);
    scan("parent after posix_spawn");
    waitpid(pid, &status, 0);
    printf("spawned child exited %d\n", WEXITSTATUS(status));
    scan("parent at the end");
    return 0;
}
