/* Waits for a signal sent from outside (by the test, to the `run` process or to the native
 * build). `handle` installs a handler for every signal a shell or terminal sends; without it the
 * default actions apply. Reports the inherited SIGHUP disposition (ignored under nohup), then
 * leaves a line in stdio's buffer: it reaches stdout only if the program ends normally. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_signal(int signo) { got = signo; }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "handle") == 0) {
        int sigs[] = {SIGTERM, SIGHUP,   SIGINT,  SIGQUIT, SIGUSR1,
                      SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP};
        for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], on_signal);
    }
    struct sigaction old;
    sigaction(SIGHUP, 0, &old);
    printf("ready, SIGHUP %s\n", old.sa_handler == SIG_IGN ? "ignored" : "default");
    fflush(stdout);
    printf("buffered until exit\n");
    for (int i = 0; i < 6000 && !got; i++) usleep(10000);
    printf("got %s\n", got ? strsignal(got) : "nothing");
    return 7;
}
