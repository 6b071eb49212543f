/* rt_sigaction / rt_sigprocmask round trips (recorded state; delivery comes later) */
#include <signal.h>
#include <stdio.h>
#include <string.h>

static void on_usr1(int sig) { (void)sig; }

int main(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    printf("install: %d\n", sigaction(SIGUSR1, &sa, NULL));
    printf("query: %d\n", sigaction(SIGUSR1, NULL, &old));
    printf("handler kept: %d\n", old.sa_handler == on_usr1);
    printf("restart kept: %d\n", (old.sa_flags & SA_RESTART) != 0);
    printf("mask kept: %d %d\n", sigismember(&old.sa_mask, SIGUSR2), sigismember(&old.sa_mask, SIGINT));
    printf("SIGKILL refused: %d\n", sigaction(SIGKILL, &sa, NULL));
    sigset_t set, prev;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGKILL);
    sigprocmask(SIG_BLOCK, &set, &prev);
    sigprocmask(SIG_BLOCK, NULL, &prev);
    printf("blocked INT=%d KILL=%d\n", sigismember(&prev, SIGINT), sigismember(&prev, SIGKILL));
    return 0;
}
