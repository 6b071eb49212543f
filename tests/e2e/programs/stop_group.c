/* SIGSTOP/SIGCONT with WUNTRACED/WCONTINUED; kill(-pgid) reaches a whole group; kill(pid, 0) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms) { struct timespec t = {ms / 1000, ms % 1000 * 1000000L}; nanosleep(&t, NULL); }

int main(void) {
    int ticks[2];
    pipe(ticks);
    pid_t child = fork();
    if (child == 0) { for (;;) { write(ticks[1], "t", 1); nap_ms(20); } }
    close(ticks[1]);
    fcntl(ticks[0], F_SETFL, O_NONBLOCK);
    char buf[4096];
    nap_ms(100);
    int status;
    kill(child, SIGSTOP);
    pid_t got = waitpid(child, &status, WUNTRACED);
    printf("stopped: %d sig=%d\n", got == child && WIFSTOPPED(status), WSTOPSIG(status));
    nap_ms(60);
    while (read(ticks[0], buf, sizeof buf) > 0) {}
    nap_ms(200);
    errno = 0;
    int quiet = read(ticks[0], buf, sizeof buf) == -1 && errno == EAGAIN;
    printf("no ticks while stopped: %d\n", quiet);
    kill(child, SIGCONT);
    got = waitpid(child, &status, WCONTINUED);
    printf("continued: %d\n", got == child && WIFCONTINUED(status));
    nap_ms(200);
    printf("ticking again: %d\n", read(ticks[0], buf, sizeof buf) > 0);
    printf("alive: %d\n", kill(child, 0) == 0);
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    errno = 0;
    int rc = kill(child, 0);
    printf("gone: %d ESRCH=%d\n", rc, errno == ESRCH);

    pid_t leader = fork();
    if (leader == 0) { setpgid(0, 0); for (;;) nap_ms(20); }
    setpgid(leader, leader);
    pid_t member = fork();
    if (member == 0) { setpgid(0, leader); for (;;) nap_ms(20); }
    setpgid(member, leader);
    nap_ms(50);
    printf("group kill: %d\n", kill(-leader, SIGUSR1));
    int killed = 0;
    for (int i = 0; i < 2; i++) {
        waitpid(-leader, &status, 0);
        killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1;
    }
    printf("both members killed by SIGUSR1: %d\n", killed == 2);
    return 0;
}
