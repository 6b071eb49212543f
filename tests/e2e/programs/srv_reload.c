#define _GNU_SOURCE
/* nginx-style master/worker reload. A launcher forks a master and, as its sibling, a reloader
 * (`nginx -s reload` / `nginx -s stop`). The master forks 2 workers per generation, writes its
 * pid file, and on SIGHUP forks a new generation, pings it over each worker's channel pipe
 * (O_ASYNC: the worker is woken by SIGIO), then SIGTERMs and reaps the old one. The reloader
 * reads the pid file and sends SIGHUP twice (waiting for each reload's marker file), then
 * SIGTERM; the master stops its workers, reaps them and exits. Signals are blocked outside
 * sigsuspend, so the output does not depend on timing; no pids are printed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 2
#define PIDFILE "master.pid"

static volatile sig_atomic_t got_hup, got_term, got_chld, got_io;

static void on_signal(int sig) {
    if (sig == SIGHUP) got_hup = 1;
    else if (sig == SIGTERM) got_term = 1;
    else if (sig == SIGCHLD) got_chld++;
    else if (sig == SIGIO) got_io = 1;
}

static void handle(int sig) {
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void die(const char *what) {
    printf("error: %s: %s\n", what, strerror(errno));
    _exit(99);
}

static int ready_pipe[2];  /* workers -> master: one byte per event */

struct worker { pid_t pid; int channel; };

static void worker_main(int gen, int idx, int channel) {
    (void)idx;
    handle(SIGIO);
    handle(SIGTERM);
    if (fcntl(channel, F_SETOWN, getpid()) < 0) die("F_SETOWN");
    if (fcntl(channel, F_SETFL, O_ASYNC | O_NONBLOCK) < 0) die("F_SETFL");
    sigset_t none;
    sigemptyset(&none);
    char g = (char)('0' + gen);
    if (write(ready_pipe[1], &g, 1) != 1) die("ready");
    for (;;) {
        while (!got_io && !got_term) sigsuspend(&none);
        if (got_io) {
            got_io = 0;
            char buf[16];
            ssize_t n;
            while ((n = read(channel, buf, sizeof buf)) > 0)
                for (ssize_t i = 0; i < n; i++)
                    if (buf[i] == 'p' && write(ready_pipe[1], &g, 1) != 1) die("pong");
        }
        if (got_term) _exit(gen);
    }
}

static char read_ready(void) {
    char c;
    ssize_t n;
    while ((n = read(ready_pipe[0], &c, 1)) < 0 && errno == EINTR) {}
    if (n != 1) die("read ready");
    return c;
}

static void spawn(int gen, struct worker *w) {
    for (int i = 0; i < WORKERS; i++) {
        int ch[2];
        if (pipe(ch) < 0) die("pipe");
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            close(ch[1]);
            for (int j = 0; j < i; j++) close(w[j].channel);
            worker_main(gen, i, ch[0]);
        }
        close(ch[0]);
        w[i].pid = pid;
        w[i].channel = ch[1];
    }
    int ready = 0;
    for (int i = 0; i < WORKERS; i++) ready += read_ready() == '0' + gen;
    /* Ping every worker over its channel; each answers with its generation. */
    for (int i = 0; i < WORKERS; i++)
        if (write(w[i].channel, "pp", 2) != 2) die("ping");
    int pongs = 0;
    for (int i = 0; i < 2 * WORKERS; i++) pongs += read_ready() == '0' + gen;
    printf("master: generation %d started, %d workers ready, %d pongs\n", gen, ready, pongs);
}

static void stop(int gen, struct worker *w) {
    int ok = 0;
    for (int i = 0; i < WORKERS; i++) kill(w[i].pid, SIGTERM);
    for (int i = 0; i < WORKERS; i++) {
        int status;
        pid_t r;
        while ((r = waitpid(w[i].pid, &status, 0)) < 0 && errno == EINTR) {}
        if (r == w[i].pid && WIFEXITED(status) && WEXITSTATUS(status) == gen) ok++;
        close(w[i].channel);
    }
    printf("master: generation %d stopped, %d reaped with status %d\n", gen, ok, gen);
}

static void master_main(void) {
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGIO);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigemptyset(&none);
    handle(SIGHUP);
    handle(SIGTERM);
    handle(SIGCHLD);
    if (pipe(ready_pipe) < 0) die("pipe");

    struct worker cur[WORKERS];
    int gen = 1;
    spawn(gen, cur);

    FILE *f = fopen(PIDFILE ".tmp", "w");
    if (!f) die("pidfile");
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    if (rename(PIDFILE ".tmp", PIDFILE) < 0) die("rename pidfile");

    for (;;) {
        while (!got_hup && !got_term) sigsuspend(&none);
        if (got_hup) {
            got_hup = 0;
            struct worker next[WORKERS];
            printf("master: SIGHUP, reloading\n");
            spawn(gen + 1, next);
            stop(gen, cur);
            memcpy(cur, next, sizeof cur);
            gen++;
            char marker[32];
            snprintf(marker, sizeof marker, "reloaded.%d", gen);
            int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) die("marker");
            close(fd);
        }
        if (got_term) {
            printf("master: SIGTERM, shutting down\n");
            stop(gen, cur);
            unlink(PIDFILE);
            printf("master: exiting after %d generations, %s\n", gen,
                   got_chld > 0 ? "SIGCHLD seen" : "no SIGCHLD");
            exit(0);
        }
    }
}

static void wait_for(const char *path) {
    struct stat st;
    for (int i = 0; i < 2000 && stat(path, &st) < 0; i++) usleep(5000);
}

static int reloader_main(void) {
    wait_for(PIDFILE);
    FILE *f = fopen(PIDFILE, "r");
    if (!f) die("open pidfile");
    int pid = 0;
    if (fscanf(f, "%d", &pid) != 1) die("read pidfile");
    fclose(f);
    int sent = 0;
    if (kill(pid, SIGHUP) == 0) sent++;
    wait_for("reloaded.2");
    if (kill(pid, SIGHUP) == 0) sent++;
    wait_for("reloaded.3");
    if (kill(pid, SIGTERM) == 0) sent++;
    return sent;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t master = fork();
    if (master < 0) die("fork master");
    if (master == 0) master_main();
    pid_t reloader = fork();
    if (reloader < 0) die("fork reloader");
    if (reloader == 0) _exit(reloader_main());

    int status;
    if (waitpid(master, &status, 0) != master) die("wait master");
    printf("launcher: master exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (waitpid(reloader, &status, 0) != reloader) die("wait reloader");
    printf("launcher: reloader exited %d (signals sent)\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    struct stat st;
    printf("launcher: pid file %s\n", stat(PIDFILE, &st) == 0 ? "left behind" : "removed");
    /* No process is left: nothing more to reap. */
    printf("launcher: waitpid after all: %s\n",
           waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD ? "ECHILD" : "unexpected");
    return 0;
}
