/* prints "ready", then sleeps until a signal: SIGUSR1 is caught (prints and exits 5), SIGTERM and
   SIGKILL end it by default; with argument "fork" a child that sleeps forever is started first */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig) { got = sig; }

int main(int argc, char **argv) {
    signal(SIGUSR1, on_usr1);
    if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        pid_t child = fork();
        if (child == 0) {
            for (;;) pause();
        }
        printf("child started\n");
    }
    printf("ready\n");
    fflush(stdout);
    while (!got) pause();
    printf("got signal %d\n", got);
    return 5;
}
