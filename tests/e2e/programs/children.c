/* SIGCHLD handler; kill of a sleeping child and its wait status; WNOHANG; ECHILD;
 * an orphaned grandchild reaped by the first process */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t chld = 0;
static void on_chld(int sig) { (void)sig; chld++; }

static void nap_ms(long ms) { struct timespec t = {ms / 1000, ms % 1000 * 1000000L}; nanosleep(&t, NULL); }

int main(void) {
    /* Natively orphans go to init; becoming a subreaper makes this process the one that
     * inherits them, as the first cage does in a microvisor (where prctl is not needed). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);

    pid_t quick = fork();
    if (quick == 0) _exit(7);
    int status;
    pid_t got = waitpid(quick, &status, 0);
    printf("quick child: reaped=%d exited=%d code=%d sigchld=%d\n", got == quick, WIFEXITED(status),
           WEXITSTATUS(status), chld >= 1);

    pid_t sleeper = fork();
    if (sleeper == 0) { nap_ms(10000); _exit(0); }
    int r = waitpid(sleeper, &status, WNOHANG);
    printf("WNOHANG while running: %d\n", r);
    kill(sleeper, SIGTERM);
    waitpid(sleeper, &status, 0);
    printf("killed child: signaled=%d sig=%d\n", WIFSIGNALED(status), WTERMSIG(status));

    pid_t killme = fork();
    if (killme == 0) { for (;;) pause(); }
    kill(killme, SIGKILL);
    waitpid(killme, &status, 0);
    printf("SIGKILL child: signaled=%d sig=%d\n", WIFSIGNALED(status), WTERMSIG(status));

    int report[2], go[2];
    pipe(report);
    pipe(go);
    pid_t middle = fork();
    if (middle == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            char c;
            read(go[0], &c, 1);          /* waits until the middle process is gone */
            _exit(42);
        }
        write(report[1], &grandchild, sizeof grandchild);
        _exit(0);
    }
    pid_t grandchild;
    read(report[0], &grandchild, sizeof grandchild);
    waitpid(middle, &status, 0);
    write(go[1], "g", 1);
    got = waitpid(-1, &status, 0);
    printf("orphan reaped by the first process: %d code=%d\n", got == grandchild, WEXITSTATUS(status));
    errno = 0;
    r = waitpid(-1, &status, 0);
    printf("no children left: %d ECHILD=%d\n", r, errno == ECHILD);
    return 0;
}
