/* execve in a threaded process: every other thread ends, the new program runs alone as the main
 * thread, from the main thread ("main") or from a secondary one ("thread"). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char pid[16];
static int never[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

/* three ways to be asleep at the exec: a sleep loop, a read on an empty pipe, a condvar wait */
static void *sleeper(void *arg) {
    int n = (int)(long)arg;
    char c;
    if (n == 1 && read(never[0], &c, 1) >= 0) write(1, "the read returned\n", 18);
    if (n == 2) {
        pthread_mutex_lock(&lock);
        pthread_cond_wait(&cond, &lock);
        write(1, "the wait returned\n", 18);
    }
    for (;;) {
        usleep(100000 * (n + 1));
        write(1, "a worker outlived the exec\n", 27);
    }
    return NULL;
}

static void replace(void) {
    char *args[] = {"exec_threads", "after", pid, NULL};
    char *env[] = {"GREETING=from threads", NULL};
    execve("./exec_threads", args, env);
    perror("execve");
    exit(99);
}

static void *execer(void *arg) {
    (void)arg;
    usleep(20000);
    replace();
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "after") == 0) {
        printf("after exec: same pid %d, tid is pid %d, GREETING=%s\n", atoi(argv[2]) == getpid(),
               (int)syscall(SYS_gettid) == getpid(), getenv("GREETING"));
        fflush(stdout);
        usleep(400000); /* the old workers would have printed by now */
        printf("still alone\n");
        fflush(stdout);
        char *args[] = {"exec_target", "second", argv[2], NULL};
        char *env[] = {"GREETING=hi again", NULL};
        int keep = open("exec_threads", O_RDONLY);
        dup2(keep, 10);
        execve("./exec_target", args, env);
        perror("execve");
        return 98;
    }
    int from_thread = argc > 1 && strcmp(argv[1], "thread") == 0;
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    pipe2(never, O_CLOEXEC);
    pthread_t t[4];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, sleeper, (void *)i);
    printf("3 workers started; exec from the %s thread\n", from_thread ? "fourth" : "main");
    fflush(stdout);
    if (from_thread) {
        pthread_create(&t[3], NULL, execer, NULL);
        pthread_join(t[3], NULL);
        printf("join returned\n");
        return 97;
    }
    usleep(20000);
    replace();
    return 0;
}
