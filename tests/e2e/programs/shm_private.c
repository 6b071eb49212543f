/* MAP_SHARED vs MAP_PRIVATE anonymous memory across fork, and what munmap gives back:
 * - a MAP_PRIVATE page written by the child is unchanged in the parent;
 * - a MAP_SHARED page written by the child (and a grandchild) is seen by the parent, and the
 *   parent's writes after the fork are seen by the child;
 * - part of a shared mapping unmapped in the child stays mapped and shared in the parent;
 * - an mprotect split of a shared mapping stays shared after fork;
 * - munmap then mmap again (at the same address) gives zero pages, shared or private;
 * - MAP_FIXED over a shared mapping gives private zero pages. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static void wait_child(pid_t pid, const char *what) {
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        printf("%s: child did not exit\n", what);
    else if (WEXITSTATUS(st))
        printf("%s: child exit %d\n", what, WEXITSTATUS(st));
}

static int all(const char *p, size_t n, char c) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != c) return 0;
    return 1;
}

int main(void) {
    char *priv = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *shar = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (priv == MAP_FAILED || shar == MAP_FAILED) { perror("mmap"); return 1; }
    printf("fresh mappings zero: %d %d\n", all(priv, 2 * PAGE, 0), all(shar, 4 * PAGE, 0));
    strcpy(priv, "parent-private");
    strcpy(shar, "parent-shared");
    if (mprotect(shar + PAGE, PAGE, PROT_READ)) perror("mprotect");  /* splits the mapping */
    if (mprotect(shar + PAGE, PAGE, PROT_READ | PROT_WRITE)) perror("mprotect");

    int pfd[2], cfd[2];
    if (pipe(pfd) || pipe(cfd)) { perror("pipe"); return 1; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        printf("child sees: '%s' '%s'\n", priv, shar);
        strcpy(priv, "child-private");
        strcpy(shar, "child-shared");
        memset(shar + PAGE, 'c', PAGE);
        memset(shar + 3 * PAGE, 'd', PAGE);
        fflush(stdout);
        pid_t g = fork();  /* a grandchild maps the same object too */
        if (g == 0) {
            strcpy(shar + 2 * PAGE, "grandchild");
            _exit(0);
        }
        wait_child(g, "grandchild");
        if (munmap(shar + 3 * PAGE, PAGE)) _exit(2);  /* only the child's view loses it */
        if (write(cfd[1], "x", 1) != 1) _exit(3);
        if (read(pfd[0], &c, 1) != 1) _exit(4);  /* the parent wrote after the fork */
        printf("child then sees: '%s' page1 all 'p' %d\n", shar, all(shar + PAGE, PAGE, 'p'));
        fflush(stdout);
        _exit(0);
    }
    char c;
    if (read(cfd[0], &c, 1) != 1) return 1;
    printf("parent sees: '%s' '%s' page1 all 'c' %d page2 '%s' page3 all 'd' %d\n", priv, shar,
           all(shar + PAGE, PAGE, 'c'), shar + 2 * PAGE, all(shar + 3 * PAGE, PAGE, 'd'));
    strcpy(shar, "parent-again");
    memset(shar + PAGE, 'p', PAGE);
    if (write(pfd[1], "y", 1) != 1) return 1;
    wait_child(pid, "child");

    /* munmap, then map again at the same place: zeros. */
    char *old = shar;
    if (munmap(shar, 4 * PAGE)) { perror("munmap"); return 1; }
    shar = mmap(old, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1,
                0);
    printf("shared again at the same address %d, zero %d\n", shar == old,
           all(shar, 4 * PAGE, 0));
    memset(shar, 's', 4 * PAGE);
    char *fixed = mmap(shar + PAGE, PAGE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("private over shared zero %d, neighbours kept %d %d\n", all(fixed, PAGE, 0),
           all(shar, PAGE, 's'), all(shar + 2 * PAGE, 2 * PAGE, 's'));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        memset(fixed, 'f', PAGE);  /* private now: the parent must not see it */
        memset(shar, 't', PAGE);   /* still shared */
        _exit(0);
    }
    wait_child(pid, "third child");
    printf("after child: fixed page zero %d, shared page 't' %d\n", all(fixed, PAGE, 0),
           all(shar, PAGE, 't'));
    munmap(shar, 4 * PAGE);
    char *p2 = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(p2, 'q', 2 * PAGE);
    munmap(p2, 2 * PAGE);
    char *p3 = mmap(p2, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                    -1, 0);
    printf("private again zero %d\n", all(p3, 2 * PAGE, 0));
    return 0;
}
