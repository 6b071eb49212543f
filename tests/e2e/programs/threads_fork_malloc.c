/* fork while three threads allocate and free large chunks (lind-musl keeps such chunks under a lock
 * of its own, which fork must not leave held in the child): every child allocates large chunks too
 * and exits 7 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile int stop;
static void *churn(void *a) {
    (void)a;
    while (!stop) { char *p = malloc(200u << 10); p[0] = 1; free(p); }
    return 0;
}
int main(void) {
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, churn, 0);
    int ok = 0;
    for (int i = 0; i < 30; i++) {
        pid_t c = fork();
        if (!c) { char *p = malloc(300u << 10); memset(p, 1, 300u << 10); free(p); p = malloc(200u << 10); free(p); _exit(7); }
        int st; waitpid(c, &st, 0); ok += WIFEXITED(st) && WEXITSTATUS(st) == 7;
    }
    stop = 1;
    for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
    printf("children ok %d\n", ok);
    return 0;
}
