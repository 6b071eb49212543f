/* A BusyBox-style multi-call binary: what it does depends on basename(argv[0]) (or argv[1] when
 * called as "applets"), so one program is installed under many names (hard links and symlinks).
 *   echo [-n] ARG...     cat [FILE...]     wc (lines words bytes of stdin)     upper (stdin)
 *   seq FIRST LAST       yes [WORD]        head -n N      true / false      die SIG (kill self)
 *   printenv NAME        sh [-c SCRIPT | FILE]
 * The sh applet is a small real shell: words with '...' and "..." quoting, $NAME, $?, NAME=value,
 * export, exit N, lists with ';', newline, '&&', '||', pipelines 'a | b | c' run by fork, pipe,
 * dup2 and execve through a PATH lookup (the child's environ carries the exported variables), and
 * redirections '<', '>', '>>', '2>', '2>&1' and '>&2'. A command killed by signal N sets $? to 128+N.
 * Every message is the program's own (no strerror text, which differs between libcs). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void put(int fd, const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void fail(const char *who, const char *what) {
    put(2, who);
    put(2, ": ");
    put(2, what);
    put(2, "\n");
}

/* ---------------------------------------------------------------- simple applets */

static int copy_fd(int in) {
    char buf[4096];
    ssize_t got;
    while ((got = read(in, buf, sizeof buf)) > 0)
        if (write(1, buf, (size_t)got) != got) return 1;
    return got < 0;
}

static int app_echo(int argc, char **argv) {
    int i = 1, newline = 1;
    if (argc > 1 && strcmp(argv[1], "-n") == 0) newline = 0, i = 2;
    for (; i < argc; i++) {
        put(1, argv[i]);
        if (i + 1 < argc) put(1, " ");
    }
    if (newline) put(1, "\n");
    return 0;
}

static int app_cat(int argc, char **argv) {
    if (argc < 2) return copy_fd(0);
    int status = 0;
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            fail("cat", argv[i]);
            status = 1;
            continue;
        }
        status |= copy_fd(fd);
        close(fd);
    }
    return status;
}

static int app_wc(void) {
    long lines = 0, words = 0, bytes = 0;
    int inword = 0;
    char buf[4096];
    ssize_t got;
    while ((got = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            char c = buf[i];
            bytes++;
            if (c == '\n') lines++;
            int space = c == ' ' || c == '\n' || c == '\t';
            if (!space && !inword) words++;
            inword = !space;
        }
    }
    printf("%ld %ld %ld\n", lines, words, bytes);
    return 0;
}

static int app_upper(void) {
    char buf[4096];
    ssize_t got;
    while ((got = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 'a' + 'A');
        if (write(1, buf, (size_t)got) != got) return 1;
    }
    return 0;
}

static int app_seq(int argc, char **argv) {
    if (argc != 3) return fail("seq", "usage: seq FIRST LAST"), 2;
    for (long i = atol(argv[1]); i <= atol(argv[2]); i++) printf("%ld\n", i);
    return 0;
}

static int app_yes(int argc, char **argv) {
    char line[256];
    snprintf(line, sizeof line, "%s\n", argc > 1 ? argv[1] : "y");
    for (;;) /* until SIGPIPE ends it (or EPIPE, if SIGPIPE were ignored) */
        if (write(1, line, strlen(line)) < 0) return errno == EPIPE ? 3 : 1;
}

static int app_head(int argc, char **argv) {
    long n = argc == 3 && strcmp(argv[1], "-n") == 0 ? atol(argv[2]) : 10;
    char c;
    while (n > 0 && read(0, &c, 1) == 1) {
        if (write(1, &c, 1) != 1) return 1;
        if (c == '\n') n--;
    }
    return 0; /* exits without draining its input: the writer gets SIGPIPE */
}

static int app_die(int argc, char **argv) {
    int sig = argc > 1 ? atoi(argv[1]) : SIGTERM;
    put(2, "die: going\n");
    /* the default action, whatever was inherited (a background job starts with SIGINT ignored) */
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), sig);
    pause();
    return 99;
}

static int app_printenv(int argc, char **argv) {
    if (argc != 2) return 2;
    const char *v = getenv(argv[1]);
    if (!v) return 1;
    put(1, v);
    put(1, "\n");
    return 0;
}

/* ---------------------------------------------------------------- the shell */

#define MAXTOK 512
#define MAXVARS 64

enum kind { WORD, PIPE, SEMI, AND, OR, LT, GT, GTGT, ERR_GT, ERR_TO_OUT, OUT_TO_ERR, END };
struct token { enum kind kind; char *text; };

static struct token toks[MAXTOK];
static int ntoks, pos;
static int last_status;

struct var { char *name; char *value; int exported; };
static struct var vars[MAXVARS];
static int nvars;

static struct var *lookup(const char *name, size_t len) {
    for (int i = 0; i < nvars; i++)
        if (strlen(vars[i].name) == len && strncmp(vars[i].name, name, len) == 0) return &vars[i];
    return NULL;
}

static void set_var(const char *name, size_t len, const char *value, int exported) {
    struct var *v = lookup(name, len);
    if (!v) {
        if (nvars == MAXVARS) return;
        v = &vars[nvars++];
        v->name = strndup(name, len);
        v->value = strdup("");
        v->exported = 0;
    }
    if (value) {
        free(v->value);
        v->value = strdup(value);
    }
    v->exported |= exported;
}

/* A growable string for words being built. */
struct buf { char *s; size_t len, cap; };
static void add(struct buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static int name_char(char c, int first) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (!first && c >= '0' && c <= '9');
}

/* Expands $NAME / $? at *p into b; returns the characters consumed. */
static size_t expand(const char *p, struct buf *b) {
    char num[16];
    if (p[1] == '?') {
        snprintf(num, sizeof num, "%d", last_status);
        add(b, num, strlen(num));
        return 2;
    }
    size_t n = 1;
    while (name_char(p[n], n == 1)) n++;
    if (n == 1) {
        add(b, "$", 1);
        return 1;
    }
    struct var *v = lookup(p + 1, n - 1);
    const char *value = v ? v->value : NULL;
    if (!value) {
        char *name = strndup(p + 1, n - 1);
        value = getenv(name);
        free(name);
    }
    if (value) add(b, value, strlen(value));
    return n;
}

static void push(enum kind kind, char *text) {
    if (ntoks < MAXTOK) toks[ntoks++] = (struct token){kind, text};
}

/* Scans the word at *pp (quotes, backslashes, $NAME and $?) into b, expanding only when asked:
 * the tokenizer finds where words end, each command expands its words just before it runs. */
static int scan_word(const char **pp, struct buf *b, int expanding) {
    const char *p = *pp;
    while (*p && !strchr(" \t\n;&|<>#", *p)) {
        if (*p == '\'') {
            const char *q = strchr(p + 1, '\'');
            if (!q) return fail("sh", "unterminated quote"), -1;
            add(b, p + 1, (size_t)(q - p - 1));
            p = q + 1;
        } else if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '$' && expanding) p += expand(p, b);
                else if (*p == '\\' && p[1]) add(b, p + 1, 1), p += 2;
                else add(b, p++, 1);
            }
            if (*p != '"') return fail("sh", "unterminated quote"), -1;
            p++;
        } else if (*p == '$' && expanding) {
            p += expand(p, b);
        } else if (*p == '\\' && p[1]) {
            add(b, p + 1, 1);
            p += 2;
        } else {
            add(b, p++, 1);
        }
    }
    *pp = p;
    return 0;
}

static char *expand_word(const char *raw) {
    struct buf b = {0};
    add(&b, "", 0);
    scan_word(&raw, &b, 1);
    return b.s;
}

/* Splits one line into tokens; a word keeps its source text until its command runs. */
static int tokenize(const char *p) {
    ntoks = pos = 0;
    while (*p) {
        if (*p == ' ' || *p == '\t') { p++; continue; }
        if (*p == '#') { while (*p && *p != '\n') p++; continue; }
        if (*p == '\n' || *p == ';') { push(SEMI, NULL); p++; continue; }
        if (p[0] == '&' && p[1] == '&') { push(AND, NULL); p += 2; continue; }
        if (p[0] == '|' && p[1] == '|') { push(OR, NULL); p += 2; continue; }
        if (*p == '|') { push(PIPE, NULL); p++; continue; }
        if (*p == '<') { push(LT, NULL); p++; continue; }
        if (strncmp(p, ">&2", 3) == 0) { push(OUT_TO_ERR, NULL); p += 3; continue; }
        if (p[0] == '>' && p[1] == '>') { push(GTGT, NULL); p += 2; continue; }
        if (*p == '>') { push(GT, NULL); p++; continue; }
        if (strncmp(p, "2>&1", 4) == 0) { push(ERR_TO_OUT, NULL); p += 4; continue; }
        if (p[0] == '2' && p[1] == '>') { push(ERR_GT, NULL); p += 2; continue; }
        if (*p == '&') return fail("sh", "syntax error near '&'"), -1;
        const char *start = p;
        struct buf scratch = {0};
        int bad = scan_word(&p, &scratch, 0);
        free(scratch.s);
        if (bad < 0) return -1;
        push(WORD, strndup(start, (size_t)(p - start)));
    }
    push(END, NULL);
    return 0;
}

#define MAXARGS 32
#define MAXSTAGES 8

struct redir { enum kind kind; char *target; };
struct command {
    char *argv[MAXARGS];
    int argc;
    char *assign[MAXARGS]; /* NAME=value words before the command name */
    int nassign;
    struct redir redirs[8];
    int nredirs;
};

static char **child_environ(struct command *c) {
    static char *env[256];
    int n = 0;
    for (char **e = environ; *e && n < 200; e++) {
        size_t len = strcspn(*e, "=");
        struct var *v = lookup(*e, len);
        if (!v || !v->exported) env[n++] = *e;
    }
    for (int i = 0; i < nvars && n < 240; i++) {
        if (!vars[i].exported) continue;
        size_t len = strlen(vars[i].name) + strlen(vars[i].value) + 2;
        char *s = malloc(len);
        snprintf(s, len, "%s=%s", vars[i].name, vars[i].value);
        env[n++] = s;
    }
    for (int i = 0; i < c->nassign && n < 255; i++) env[n++] = c->assign[i];
    env[n] = NULL;
    return env;
}

static int apply_redirs(struct command *c) {
    for (int i = 0; i < c->nredirs; i++) {
        struct redir *r = &c->redirs[i];
        int fd = -1, target = 1;
        switch (r->kind) {
        case LT: fd = open(r->target, O_RDONLY); target = 0; break;
        case GT: fd = open(r->target, O_WRONLY | O_CREAT | O_TRUNC, 0644); break;
        case GTGT: fd = open(r->target, O_WRONLY | O_CREAT | O_APPEND, 0644); break;
        case ERR_GT: fd = open(r->target, O_WRONLY | O_CREAT | O_TRUNC, 0644); target = 2; break;
        case ERR_TO_OUT:
            if (dup2(1, 2) < 0) return -1;
            continue;
        case OUT_TO_ERR:
            if (dup2(2, 1) < 0) return -1;
            continue;
        default: return -1;
        }
        if (fd < 0) {
            fail("sh", "cannot open redirection");
            return -1;
        }
        if (dup2(fd, target) < 0) return -1;
        close(fd);
    }
    return 0;
}

static void exec_path(struct command *c) {
    char **env = child_environ(c);
    const char *name = c->argv[0];
    if (strchr(name, '/')) {
        execve(name, c->argv, env);
    } else {
        const char *path = getenv("PATH");
        struct var *v = lookup("PATH", 4);
        if (v) path = v->value;
        if (!path) path = "/bin";
        while (*path) {
            size_t len = strcspn(path, ":");
            char full[1024];
            snprintf(full, sizeof full, "%.*s/%s", (int)len, path, name);
            execve(full, c->argv, env);
            path += len;
            if (*path == ':') path++;
        }
    }
    fail(name, errno == ENOENT ? "not found" : "cannot execute");
    _exit(errno == ENOENT ? 127 : 126);
}

static int status_of(int raw) {
    if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
    return WEXITSTATUS(raw);
}

/* Builtins run in the shell itself (only when not in a pipeline). Returns -1 if not one. */
static int builtin(struct command *c, int *exiting) {
    const char *n = c->argv[0];
    if (strcmp(n, "exit") == 0) {
        *exiting = 1;
        return c->argc > 1 ? atoi(c->argv[1]) : last_status;
    }
    if (strcmp(n, "export") == 0) {
        for (int i = 1; i < c->argc; i++) {
            char *eq = strchr(c->argv[i], '=');
            size_t len = eq ? (size_t)(eq - c->argv[i]) : strlen(c->argv[i]);
            set_var(c->argv[i], len, eq ? eq + 1 : NULL, 1);
        }
        return 0;
    }
    return -1;
}

static int parse_command(struct command *c) {
    memset(c, 0, sizeof *c);
    while (toks[pos].kind == WORD || (toks[pos].kind >= LT && toks[pos].kind <= OUT_TO_ERR)) {
        struct token *t = &toks[pos++];
        if (t->kind == WORD) {
            char *eq = strchr(t->text, '=');
            char *word = expand_word(t->text);
            if (c->argc == 0 && eq && eq != t->text && c->nassign < MAXARGS - 1)
                c->assign[c->nassign++] = word;
            else if (c->argc < MAXARGS - 1)
                c->argv[c->argc++] = word;
        } else if (t->kind == ERR_TO_OUT || t->kind == OUT_TO_ERR) {
            c->redirs[c->nredirs++] = (struct redir){t->kind, NULL};
        } else {
            if (toks[pos].kind != WORD) return fail("sh", "redirection without a file"), -1;
            c->redirs[c->nredirs++] = (struct redir){t->kind, expand_word(toks[pos++].text)};
        }
        if (c->nredirs == 8) return fail("sh", "too many redirections"), -1;
    }
    return 0;
}

/* Runs one pipeline starting at toks[pos]; returns its status. */
static int run_pipeline(int *exiting) {
    struct command cmds[MAXSTAGES];
    int n = 0;
    for (;;) {
        if (n == MAXSTAGES || parse_command(&cmds[n]) < 0) return 2;
        n++;
        if (toks[pos].kind != PIPE) break;
        pos++;
    }
    if (n == 1 && cmds[0].argc == 0) { /* assignments only */
        for (int i = 0; i < cmds[0].nassign; i++) {
            char *a = cmds[0].assign[i], *eq = strchr(a, '=');
            set_var(a, (size_t)(eq - a), eq + 1, 0);
        }
        return 0;
    }
    if (n == 1) {
        int b = builtin(&cmds[0], exiting);
        if (b >= 0) return b;
    }
    fflush(stdout);
    pid_t pids[MAXSTAGES];
    int in = -1;
    for (int i = 0; i < n; i++) {
        int p[2] = {-1, -1};
        if (i + 1 < n && pipe(p) < 0) return fail("sh", "pipe failed"), 2;
        pids[i] = fork();
        if (pids[i] < 0) return fail("sh", "fork failed"), 2;
        if (pids[i] == 0) {
            if (in >= 0) dup2(in, 0), close(in);
            if (p[1] >= 0) dup2(p[1], 1), close(p[1]), close(p[0]);
            if (cmds[i].argc == 0 || apply_redirs(&cmds[i]) < 0) _exit(1);
            exec_path(&cmds[i]);
        }
        if (in >= 0) close(in);
        if (p[1] >= 0) close(p[1]);
        in = p[0];
    }
    int status = 0;
    for (int i = 0; i < n; i++) {
        int raw;
        while (waitpid(pids[i], &raw, 0) < 0)
            if (errno != EINTR) return 2;
        if (i == n - 1) status = status_of(raw);
    }
    return status;
}

/* Runs a list: pipelines joined by ';', '&&', '||'. */
static int run_list(int *exiting) {
    int run = 1;
    while (toks[pos].kind != END) {
        if (toks[pos].kind == SEMI) {
            pos++;
            run = 1;
            continue;
        }
        if (run) {
            last_status = run_pipeline(exiting);
            if (*exiting) return last_status;
        } else {
            /* skip this pipeline */
            while (toks[pos].kind != END && toks[pos].kind != SEMI && toks[pos].kind != AND &&
                   toks[pos].kind != OR)
                pos++;
        }
        if (toks[pos].kind == AND) pos++, run = last_status == 0;
        else if (toks[pos].kind == OR) pos++, run = last_status != 0;
        else if (toks[pos].kind != SEMI && toks[pos].kind != END) {
            fail("sh", "syntax error");
            last_status = 2;
            return 2;
        }
    }
    return last_status;
}

static int sh_script(const char *script) {
    int exiting = 0;
    const char *line = script;
    while (*line) { /* one line at a time, so $? and variables expand after earlier lines ran */
        size_t len = strcspn(line, "\n");
        char *text = strndup(line, len);
        if (tokenize(text) < 0) return 2;
        int s = run_list(&exiting);
        free(text);
        if (exiting) return s;
        line += len;
        if (*line) line++;
    }
    return last_status;
}

static int app_sh(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "-c") == 0) return sh_script(argv[2]);
    if (argc != 2) return fail("sh", "usage: sh -c SCRIPT | sh FILE"), 2;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) return fail("sh", "cannot open script"), 127;
    struct buf b = {0};
    add(&b, "", 0);
    char chunk[4096];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) > 0) add(&b, chunk, (size_t)got);
    close(fd);
    return sh_script(b.s);
}

/* ---------------------------------------------------------------- dispatch */

int main(int argc, char **argv) {
    const char *name = strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];
    if (strcmp(name, "applets") == 0 && argc > 1) {
        argv++, argc--;
        name = argv[0];
    }
    int status;
    if (strcmp(name, "echo") == 0) status = app_echo(argc, argv);
    else if (strcmp(name, "cat") == 0) status = app_cat(argc, argv);
    else if (strcmp(name, "wc") == 0) status = app_wc();
    else if (strcmp(name, "upper") == 0) status = app_upper();
    else if (strcmp(name, "seq") == 0) status = app_seq(argc, argv);
    else if (strcmp(name, "yes") == 0) status = app_yes(argc, argv);
    else if (strcmp(name, "head") == 0) status = app_head(argc, argv);
    else if (strcmp(name, "true") == 0) status = 0;
    else if (strcmp(name, "false") == 0) status = 1;
    else if (strcmp(name, "die") == 0) status = app_die(argc, argv);
    else if (strcmp(name, "printenv") == 0) status = app_printenv(argc, argv);
    else if (strcmp(name, "sh") == 0) status = app_sh(argc, argv);
    else {
        fail(name, "applet not found");
        status = 127;
    }
    fflush(stdout);
    return status;
}
