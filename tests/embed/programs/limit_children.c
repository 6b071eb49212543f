/* forks children that wait on a pipe until fork fails (or 50 exist); prints the count and why */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int gate[2];
    if (pipe(gate) < 0) return 2;
    int started = 0, err = 0;
    while (started < 50) {
        pid_t pid = fork();
        if (pid < 0) { err = errno; break; }
        if (pid == 0) {
            char c;
            close(gate[1]);
            read(gate[0], &c, 1); /* returns at EOF: when the parent closes its end */
            _exit(0);
        }
        started++;
    }
    close(gate[1]);
    while (wait(NULL) > 0) {}
    printf("started %d children, then %s\n", started,
           err == EAGAIN ? "EAGAIN" : err ? strerror(err) : "no error");
    return 0;
}
