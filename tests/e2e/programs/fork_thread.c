/* fork from a secondary thread: in the child that thread is the only one (the main thread's
 * pid is its tid); it can start threads; returning from its start function ends the child with
 * status 0; the parent's threads carry on. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long ticks;
static volatile int stop;
static long shared_value = 42;

static void *ticker(void *arg) {
    (void)arg;
    while (!stop) {
        ticks++;
        usleep(1000);
    }
    return NULL;
}

static void *helper(void *arg) { return (void *)((long)arg + shared_value); }

static int exit_of(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void *forker(void *arg) {
    (void)arg;
    shared_value = 43;
    pid_t pid = fork();
    if (pid == 0) {
        printf("child: tid is pid %d, sees %ld\n", (int)syscall(SYS_gettid) == getpid(),
               shared_value);
        long before = ticks;
        usleep(50000);
        printf("child: the ticker did not come along %d\n", before == ticks);
        pthread_t t;
        void *r;
        pthread_create(&t, NULL, helper, (void *)100);
        pthread_join(t, &r);
        printf("child: its own thread returned %ld\n", (long)r);
        fflush(stdout);
        exit(4);
    }
    printf("parent thread: child exited %d\n", exit_of(pid));
    fflush(stdout);
    pid = fork();
    if (pid == 0) return (void *)7; /* the child's last thread returns: exit status 0 */
    printf("parent thread: second child exited %d\n", exit_of(pid));
    return (void *)1;
}

int main(void) {
    pthread_t tick, fork_thread;
    pthread_create(&tick, NULL, ticker, NULL);
    pthread_create(&fork_thread, NULL, forker, NULL);
    void *r;
    pthread_join(fork_thread, &r);
    long before = ticks;
    usleep(50000);
    printf("main: forker returned %ld, ticker still running %d\n", (long)r, ticks > before);
    stop = 1;
    pthread_join(tick, NULL);
    return 0;
}
