/* 10,000 round trips between parent and child over two pipes */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int up[2], down[2];
    pipe(up);
    pipe(down);
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        int v;
        while (read(down[0], &v, sizeof v) == sizeof v) {
            v += 1;
            write(up[1], &v, sizeof v);
        }
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    int v = 0;
    for (int i = 0; i < 10000; i++) {
        write(down[1], &v, sizeof v);
        if (read(up[0], &v, sizeof v) != sizeof v) { printf("short read\n"); return 1; }
    }
    close(down[1]);
    int status;
    waitpid(pid, &status, 0);
    printf("round trips: %d, child exited %d\n", v, WEXITSTATUS(status));
    return 0;
}
