/* A Redis-like key/value server on the AF_UNIX socket argv[1] (relative to the working
 * directory), serving clients from one poll loop with line commands and Redis-style replies:
 *   PING  SET k v  GET k  DEL k  DBSIZE  BGSAVE  LASTSAVE  QUIT  SHUTDOWN
 * BGSAVE forks a child that writes the table to dump.tmp and renames it to dump.rdb, while the
 * parent keeps serving. The child waits (on a pipe) until the parent has changed its table after
 * the fork, so the snapshot holds the pre-fork values only because fork copied the memory. The
 * parent notices the child's end by SIGCHLD (poll returns EINTR) or its poll timeout and reaps
 * it with waitpid(WNOHANG) in the loop; LASTSAVE says "+in progress" until then, then the number
 * of saves done and how the last ended. SHUTDOWN waits for a save still running, prints the table
 * and exits with the number of saves done. Prints "ready" once listening; logs events on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXKEYS 64
#define MAXCLIENTS 8

struct entry { char *key, *value; };
static struct entry table[MAXKEYS];
static int nkeys;

struct client { int fd, id; char buf[1024]; size_t len; };
static struct client clients[MAXCLIENTS];
static int nclients, next_id = 1;

static pid_t save_pid;      /* the BGSAVE child running, or 0 */
static int save_gate = -1;  /* write end: releases the child once the table changed */
static int saves_done;
static char last_save[64] = "none";

static void on_chld(int sig) { (void)sig; } /* only to interrupt poll */

static void log_line(const char *fmt, const char *arg, int n) {
    printf(fmt, arg, n);
    fflush(stdout);
}

static void reply(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct client *c, const char *fmt, ...) {
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(c->fd, line + off, (size_t)(n - off));
        if (w <= 0) return;
        off += (int)w;
    }
}

static int find(const char *key) {
    for (int i = 0; i < nkeys; i++)
        if (strcmp(table[i].key, key) == 0) return i;
    return -1;
}

/* The table changed: a waiting BGSAVE child may now write its (pre-change) copy. */
static void changed(void) {
    if (save_gate >= 0) {
        if (write(save_gate, "g", 1) != 1) perror("gate");
        close(save_gate);
        save_gate = -1;
    }
}

static int snapshot(int gate) {
    char go;
    if (read(gate, &go, 1) != 1) return 2;
    FILE *f = fopen("dump.tmp", "w");
    if (!f) return 3;
    for (int i = 0; i < nkeys; i++) fprintf(f, "%s=%s\n", table[i].key, table[i].value);
    if (fclose(f) != 0 || rename("dump.tmp", "dump.rdb") != 0) return 4;
    return 0;
}

static void bgsave(struct client *c) {
    if (save_pid) {
        reply(c, "-ERR Background save already in progress");
        return;
    }
    int gate[2];
    if (pipe(gate) < 0) {
        reply(c, "-ERR pipe");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        reply(c, "-ERR fork");
        return;
    }
    if (pid == 0) { /* the child: no serving, only the snapshot */
        close(gate[1]);
        for (int i = 0; i < nclients; i++) close(clients[i].fd);
        _exit(snapshot(gate[0]));
    }
    close(gate[0]);
    save_gate = gate[1];
    save_pid = pid;
    log_line("%sbackground save started (%d keys)\n", "", nkeys);
    reply(c, "+Background saving started");
}

static void reap(int block) {
    int status;
    pid_t pid;
    while (save_pid && (pid = waitpid(-1, &status, block ? 0 : WNOHANG)) != 0) {
        if (pid < 0) {
            if (errno == EINTR) continue;
            perror("waitpid");
            return;
        }
        if (pid != save_pid) continue;
        save_pid = 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            saves_done++;
            snprintf(last_save, sizeof last_save, "ok");
        } else {
            snprintf(last_save, sizeof last_save, "failed (%d)", status);
        }
        log_line("background save ended: %s (%d done)\n", last_save, saves_done);
    }
}

/* Runs one command line; returns 1 to close this client, 2 to shut the server down. */
static int command(struct client *c, char *line) {
    char *argv[4] = {0};
    int argc = 0;
    for (char *tok = strtok(line, " "); tok && argc < 4; tok = strtok(NULL, " ")) argv[argc++] = tok;
    if (argc == 0) return 0;
    const char *cmd = argv[0];
    if (strcmp(cmd, "PING") == 0) {
        reply(c, "+PONG");
    } else if (strcmp(cmd, "SET") == 0 && argc == 3) {
        int i = find(argv[1]);
        if (i < 0 && nkeys == MAXKEYS) {
            reply(c, "-ERR table full");
            return 0;
        }
        if (i < 0) {
            i = nkeys++;
            table[i].key = strdup(argv[1]);
        } else {
            free(table[i].value);
        }
        table[i].value = strdup(argv[2]);
        changed();
        reply(c, "+OK");
    } else if (strcmp(cmd, "GET") == 0 && argc == 2) {
        int i = find(argv[1]);
        if (i < 0) reply(c, "$-1");
        else reply(c, "$%s", table[i].value);
    } else if (strcmp(cmd, "DEL") == 0 && argc == 2) {
        int i = find(argv[1]);
        if (i >= 0) {
            free(table[i].key);
            free(table[i].value);
            table[i] = table[--nkeys];
            changed();
        }
        reply(c, ":%d", i >= 0);
    } else if (strcmp(cmd, "DBSIZE") == 0) {
        reply(c, ":%d", nkeys);
    } else if (strcmp(cmd, "BGSAVE") == 0) {
        bgsave(c);
    } else if (strcmp(cmd, "LASTSAVE") == 0) {
        if (save_pid) reply(c, "+in progress");
        else reply(c, ":%d %s", saves_done, last_save);
    } else if (strcmp(cmd, "QUIT") == 0) {
        reply(c, "+OK");
        return 1;
    } else if (strcmp(cmd, "SHUTDOWN") == 0) {
        reply(c, "+bye");
        return 2;
    } else {
        reply(c, "-ERR unknown command '%s'", cmd);
    }
    return 0;
}

static void drop(int k) {
    log_line("client %s%d closed\n", "", clients[k].id);
    close(clients[k].fd);
    clients[k] = clients[--nclients];
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: kv_server SOCKET\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sigaction(SIGCHLD, &sa, NULL); /* no SA_RESTART: poll returns EINTR */
    signal(SIGPIPE, SIG_IGN);

    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
    unlink(argv[1]);
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 8) < 0) {
        perror("listen");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    int running = 1;
    while (running) {
        reap(0);
        struct pollfd fds[MAXCLIENTS + 1];
        fds[0] = (struct pollfd){s, POLLIN, 0};
        for (int i = 0; i < nclients; i++) fds[i + 1] = (struct pollfd){clients[i].fd, POLLIN, 0};
        int n = poll(fds, (nfds_t)nclients + 1, 100);
        if (n < 0) {
            if (errno == EINTR) continue; /* SIGCHLD: reap at the top */
            perror("poll");
            return 1;
        }
        /* Clients first (fds[1..] match clients[] only until one is dropped: walk backwards). */
        for (int k = nclients - 1; k >= 0 && running; k--) {
            if (!fds[k + 1].revents) continue;
            struct client *c = &clients[k];
            ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
            if (got <= 0) {
                drop(k);
                continue;
            }
            c->len += (size_t)got;
            char *nl;
            int verdict = 0;
            while (verdict == 0 && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
                *nl = 0;
                size_t used = (size_t)(nl - c->buf) + 1;
                char line[1024];
                memcpy(line, c->buf, used);
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
                verdict = command(c, line);
            }
            if (verdict == 1) drop(k);
            if (verdict == 2) running = 0;
        }
        if (running && (fds[0].revents & POLLIN)) {
            int fd = accept(s, NULL, NULL);
            if (fd >= 0 && nclients < MAXCLIENTS) {
                clients[nclients] = (struct client){.fd = fd, .id = next_id++};
                log_line("client %s%d connected\n", "", clients[nclients].id);
                nclients++;
            } else if (fd >= 0) {
                close(fd);
            }
        }
    }
    if (save_pid) {
        changed();
        reap(1);
    }
    for (int i = 0; i < nkeys; i++) printf("%s=%s\n", table[i].key, table[i].value);
    while (nclients) drop(nclients - 1);
    close(s);
    unlink(argv[1]);
    printf("shutdown after %d saves\n", saves_done);
    return saves_done;
}
