/* Ping-pong between a parent and a fork child over two process-shared semaphores in a
 * MAP_SHARED|MAP_ANONYMOUS page: each side blocks in sem_wait until the other posts. */
#include <semaphore.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 2000

struct shared {
    sem_t ping, pong;
    volatile int ball;
    volatile int mismatches;
};

int main(void) {
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                            -1, 0);
    if (s == MAP_FAILED) { perror("mmap"); return 1; }
    if (sem_init(&s->ping, 1, 0) || sem_init(&s->pong, 1, 0)) { perror("sem_init"); return 1; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
        for (int i = 0; i < ROUNDS; i++) {
            while (sem_wait(&s->ping)) {}
            if (s->ball != 2 * i + 1) s->mismatches++;
            s->ball++;
            sem_post(&s->pong);
        }
        _exit(0);
    }
    for (int i = 0; i < ROUNDS; i++) {
        s->ball++;
        sem_post(&s->ping);
        while (sem_wait(&s->pong)) {}
        if (s->ball != 2 * i + 2) s->mismatches++;
    }
    int st;
    waitpid(pid, &st, 0);
    int left;
    sem_getvalue(&s->ping, &left);
    printf("rounds %d, ball %d, mismatches %d, child exit %d, ping left %d\n", ROUNDS, s->ball,
           s->mismatches, WIFEXITED(st) ? WEXITSTATUS(st) : -1, left);
    return 0;
}
