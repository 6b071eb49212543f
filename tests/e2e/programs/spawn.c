/* posix_spawn / posix_spawnp: arguments, environment, file actions (dup2, close, open) run in the
 * child only, exec failures reported, waitpid of the child. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_for(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void *spawner(void *arg) {
    char **argv = arg;
    char *env[] = {NULL};
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid, "./exec_target", &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    return (void *)(long)(rc ? -rc : wait_for(pid));
}

int main(void) {
    int keep = open("marker.txt", O_CREAT | O_RDWR, 0600);
    int open11 = open("marker.txt", O_RDONLY);
    dup2(open11, 11); /* not close-on-exec: the file action closes it in the child */
    char *argv[] = {"exec_target", "spawned", "0", NULL};
    char *env[] = {"GREETING=spawned hello", NULL};

    /* 1: adddup2 + addclose */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, keep, 10);
    posix_spawn_file_actions_addclose(&fa, 11);
    printf("1: spawn with dup2 and close\n");
    fflush(stdout);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "./exec_target", &fa, NULL, argv, env);
    printf("1: rc %d, a new pid %d\n", rc, pid > 0 && pid != getpid());
    printf("1: exit %d\n", wait_for(pid));
    printf("1: parent's fd 11 still open %d, fd 10 not made here %d\n", fcntl(11, F_GETFD) >= 0,
           fcntl(10, F_GETFD) == -1 && errno == EBADF);
    posix_spawn_file_actions_destroy(&fa);

    /* 2: addopen redirects the child's stdout into a file */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "child_out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    rc = posix_spawn(&pid, "./exec_target", &fa, NULL, argv, env);
    printf("2: rc %d, exit %d\n", rc, wait_for(pid));
    posix_spawn_file_actions_destroy(&fa);
    char buf[512] = {0};
    int in = open("child_out.txt", O_RDONLY);
    ssize_t n = read(in, buf, sizeof buf - 1);
    close(in);
    printf("2: the child's output went to the file (%d bytes):\n%s", n > 0, buf);

    /* 3: posix_spawnp searches PATH */
    setenv("PATH", "/no/such/dir:.", 1);
    char *argv3[] = {"exec_target", "by path", "0", NULL};
    fflush(stdout);
    rc = posix_spawnp(&pid, "exec_target", NULL, NULL, argv3, env);
    printf("3: spawnp rc %d, exit %d\n", rc, rc ? -1 : wait_for(pid));

    /* 4: exec failure comes back as posix_spawn's result; nothing to wait for */
    pid = 12345;
    rc = posix_spawn(&pid, "./no-such-program", NULL, NULL, argv, env);
    printf("4: missing program: ENOENT %d, pid untouched %d, no child %d\n", rc == ENOENT,
           pid == 12345, waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
    rc = posix_spawnp(&pid, "no-such-program", NULL, NULL, argv, env);
    printf("4: spawnp missing: ENOENT %d\n", rc == ENOENT);

    /* 5: a failing file action */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 3, "no/such/file", O_RDONLY, 0);
    rc = posix_spawn(&pid, "./exec_target", &fa, NULL, argv, env);
    printf("5: failing addopen: ENOENT %d\n", rc == ENOENT);
    posix_spawn_file_actions_destroy(&fa);

    /* 6: several children at once, reaped in any order */
    int total = 0;
    pid_t kids[4];
    fflush(stdout);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    for (int i = 0; i < 4; i++) posix_spawn(&kids[i], "./exec_target", &fa, NULL, argv, env);
    for (int i = 3; i >= 0; i--) total += wait_for(kids[i]);
    posix_spawn_file_actions_destroy(&fa);
    printf("6: four children, exits summed %d\n", total);

    /* 7: from a secondary thread, while the main thread waits in join */
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, spawner, argv);
    pthread_join(t, &r);
    printf("7: from a thread: exit %ld\n", (long)r);
    return 0;
}
