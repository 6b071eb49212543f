#define _GNU_SOURCE
/* Redis-style BGSAVE. The server keeps a key/value table in memory (heap strings and a static
 * counter), forks a child that writes a snapshot (temp file, then rename) while the parent keeps
 * serving: it changes, adds and deletes keys after the fork. The child waits until the parent
 * has changed its table before writing, so the snapshot holds the pre-fork values only if fork
 * copies memory. The child's own changes must not reach the parent either. The parent learns of
 * the child's end from its SIGCHLD handler, reaps it with waitpid, then loads the snapshot and
 * prints it next to the live table. Done twice (the second snapshot sees the first's changes). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXKEYS 16

struct entry { char *key; char *value; };
static struct entry table[MAXKEYS];
static int nkeys;
static long version;  /* bumped by every write */

static volatile sig_atomic_t chld_seen;
static void on_chld(int sig) { (void)sig; chld_seen++; }

static void die(const char *what) {
    printf("error: %s: %s\n", what, strerror(errno));
    _exit(99);
}

static struct entry *find(const char *key) {
    for (int i = 0; i < nkeys; i++)
        if (strcmp(table[i].key, key) == 0) return &table[i];
    return NULL;
}

static void set(const char *key, const char *value) {
    struct entry *e = find(key);
    if (!e) {
        e = &table[nkeys++];
        e->key = strdup(key);
    } else {
        free(e->value);
    }
    e->value = strdup(value);
    version++;
}

static void del(const char *key) {
    struct entry *e = find(key);
    if (!e) return;
    free(e->key);
    free(e->value);
    *e = table[--nkeys];
    version++;
}

static void dump_table(const char *title) {
    printf("%s (version %ld, %d keys):\n", title, version, nkeys);
    for (int i = 0; i < nkeys; i++) printf("  %s = %s\n", table[i].key, table[i].value);
}

/* The child: wait for the parent's go-ahead, write the snapshot, scribble on its own copy. */
static void save_child(const char *path, int go_fd) {
    char c;
    if (read(go_fd, &c, 1) != 1) die("go");
    char tmp[64];
    snprintf(tmp, sizeof tmp, "temp-%s", path);
    FILE *f = fopen(tmp, "w");
    if (!f) die("fopen snapshot");
    fprintf(f, "VERSION %ld\n", version);
    for (int i = 0; i < nkeys; i++) fprintf(f, "%s %s\n", table[i].key, table[i].value);
    if (fclose(f) != 0) die("fclose snapshot");
    if (rename(tmp, path) < 0) die("rename snapshot");
    set("written-by-child", "yes");  /* must stay in the child */
    find("big")->value[0] = 'X';  /* a heap string the parent keeps */
    _exit(nkeys);
}

static void bgsave(const char *path, int round) {
    int go[2];
    if (pipe(go) < 0) die("pipe");
    chld_seen = 0;
    long at_fork = version;
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(go[1]);
        save_child(path, go[0]);
    }
    close(go[0]);
    printf("round %d: background saving started (version %ld)\n", round, at_fork);

    /* Keep serving while the child saves. */
    if (round == 1) {
        set("counter", "101");
        set("greeting", "goodbye");
        del("temp");
        set("late", "after-fork");
    } else {
        set("counter", "102");
        del("late");
    }
    if (write(go[1], "g", 1) != 1) die("go");
    close(go[1]);

    sigset_t none;
    sigemptyset(&none);
    while (!chld_seen) sigsuspend(&none);
    int status;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
    if (r != pid) die("waitpid");
    printf("round %d: SIGCHLD, child exited %d (its key count), no more children: %s\n", round,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD ? "yes" : "no");

    FILE *f = fopen(path, "r");
    if (!f) die("open snapshot");
    printf("round %d: snapshot %s:\n", round, path);
    char line[256];
    while (fgets(line, sizeof line, f)) printf("  | %s", line);
    fclose(f);
    dump_table("live table");
    printf("round %d: child's key in parent: %s\n", round,
           find("written-by-child") ? "LEAKED" : "absent");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa = {0};
    sa.sa_handler = on_chld;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, NULL);

    set("counter", "100");
    set("greeting", "hello");
    set("temp", "scratch");
    char big[200];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    set("big", big);
    dump_table("initial table");

    bgsave("dump.rdb", 1);
    bgsave("dump2.rdb", 2);
    return 0;
}
