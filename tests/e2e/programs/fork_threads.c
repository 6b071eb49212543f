/* fork from the main thread while worker threads run: the child has only the forking thread, a
 * copy of all memory (the workers' data too), and can start threads of its own; the parent's
 * workers keep running. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 3
static volatile long ticks[WORKERS];
static long data[WORKERS];
static volatile int stop;
static pthread_barrier_t ready;

static void *worker(void *arg) {
    long i = (long)arg;
    data[i] = 1000 * (i + 1);
    pthread_barrier_wait(&ready);
    while (!stop) {
        ticks[i]++;
        usleep(1000);
    }
    return (void *)(data[i] + 1);
}

static void *child_thread(void *arg) {
    long i = (long)arg;
    return (void *)(data[i] * 2 + syscall(SYS_gettid) - syscall(SYS_gettid));
}

int main(void) {
    pthread_t t[WORKERS];
    pthread_barrier_init(&ready, NULL, WORKERS + 1);
    for (long i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    pthread_barrier_wait(&ready);
    printf("workers ready\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        printf("child: data %ld %ld %ld\n", data[0], data[1], data[2]);
        long before[WORKERS], same = 1;
        for (int i = 0; i < WORKERS; i++) before[i] = ticks[i];
        usleep(100000);
        for (int i = 0; i < WORKERS; i++) same &= before[i] == ticks[i];
        printf("child: the workers did not come along: %ld\n", same);
        printf("child: tid is pid: %d\n", (int)syscall(SYS_gettid) == getpid());
        pthread_t c[WORKERS];
        long sum = 0;
        for (long i = 0; i < WORKERS; i++)
            if (pthread_create(&c[i], NULL, child_thread, (void *)i)) return 2;
        for (int i = 0; i < WORKERS; i++) {
            void *r;
            pthread_join(c[i], &r);
            sum += (long)r;
        }
        printf("child: own threads summed %ld\n", sum);
        fflush(stdout);
        exit(7);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return 3;
    printf("parent: child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    long before[WORKERS], moved = 1;
    for (int i = 0; i < WORKERS; i++) before[i] = ticks[i];
    usleep(100000);
    for (int i = 0; i < WORKERS; i++) moved &= ticks[i] > before[i];
    printf("parent: workers still running: %ld\n", moved);
    stop = 1;
    long sum = 0;
    for (int i = 0; i < WORKERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("parent: joined, sum %ld\n", sum);
    return 0;
}
