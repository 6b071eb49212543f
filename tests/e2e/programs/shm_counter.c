/* A MAP_SHARED|MAP_ANONYMOUS counter incremented by two fork children (10,000 times each) under a
 * process-shared lock: a semaphore (sem_init pshared=1) or a PTHREAD_PROCESS_SHARED mutex. The
 * lock is held across a short sleep now and then, so the other process really waits on it. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 2
#define ROUNDS 10000

struct shared {
    sem_t sem;
    pthread_mutex_t mutex;
    volatile long counter;
    volatile long unlocked; /* incremented without the lock: only checked to be <= the total */
};

static void nap(void) {
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
}

static void work(struct shared *s, int use_mutex) {
    for (int i = 0; i < ROUNDS; i++) {
        if (use_mutex) {
            if (pthread_mutex_lock(&s->mutex)) _exit(3);
        } else {
            while (sem_wait(&s->sem)) {}
        }
        long v = s->counter;
        if (i % 2500 == 0) nap();
        s->counter = v + 1;
        if (use_mutex) pthread_mutex_unlock(&s->mutex);
        else sem_post(&s->sem);
        s->unlocked++;
    }
}

static int run(int use_mutex) {
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                            -1, 0);
    if (s == MAP_FAILED) { perror("mmap"); return 1; }
    if (s->counter != 0) { printf("not zero-filled\n"); return 1; }
    if (use_mutex) {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        if (pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) return 1;
        if (pthread_mutex_init(&s->mutex, &a)) return 1;
    } else if (sem_init(&s->sem, 1, 1)) {
        perror("sem_init");
        return 1;
    }
    fflush(stdout);
    pid_t kids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        kids[c] = fork();
        if (kids[c] < 0) { perror("fork"); return 1; }
        if (kids[c] == 0) {
            work(s, use_mutex);
            _exit(0);
        }
    }
    int ok = 1;
    for (int c = 0; c < CHILDREN; c++) {
        int st;
        if (waitpid(kids[c], &st, 0) != kids[c] || !WIFEXITED(st) || WEXITSTATUS(st)) ok = 0;
    }
    printf("%s: children ok %d, counter %ld (expected %d), unlocked <= total %d\n",
           use_mutex ? "mutex" : "semaphore", ok, s->counter, CHILDREN * ROUNDS,
           s->unlocked <= CHILDREN * ROUNDS && s->unlocked > 0);
    if (use_mutex) pthread_mutex_destroy(&s->mutex);
    else sem_destroy(&s->sem);
    return munmap(s, sizeof *s) ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "mutex") == 0) return run(1);
    if (argc > 1 && strcmp(argv[1], "semaphore") == 0) return run(0);
    return run(0) || run(1);
}
