/* SIGALRM interrupts a busy loop that makes no system calls */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t done = 0;
static void on_alarm(int sig) { (void)sig; done = 1; }

int main(void) {
    signal(SIGALRM, on_alarm);
    alarm(1);
    volatile unsigned long spins = 0;
    while (!done) spins++;
    printf("loop ended by the handler: %d\n", done);
    fflush(stdout);
    alarm(1);
    signal(SIGALRM, SIG_DFL);
    for (;;) spins++;   /* the default action ends the process */
}
