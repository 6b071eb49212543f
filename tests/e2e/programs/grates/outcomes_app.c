/* Calls whose answers a stack of Python grates decides (tests/e2e/test_python_hop_outcomes.py):
 * every outcome a handler can have, reached through a grate that forwards it. Prints one line
 * per call (the result and errno), then exits 3 (the exit forwarded through both grates), or is
 * killed by the grate at `getppid` when the first argument is "kill". */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, long r) {
    printf("%s %ld %d\n", what, r, r < 0 ? errno : 0);
    errno = 0;
}

int main(int argc, char **argv) {
    for (int round = 0; round < 3; round++) { /* the same calls again: pooled objects reused */
        show("geteuid-waits", (long)geteuid());
        show("getegid-plain", (long)getegid() == (long)getgid());
        show("chdir-errno", chdir("/errno"));
        show("rmdir-bug", rmdir("/bug"));
        show("mkdir-not-an-int", mkdir("/notint", 0755));
        show("unlink-waits-then-errno", unlink("/later"));
        show("getpid-forwarded", getpid() > 0);
        show("access-forwarded-with-args", access("/", F_OK));
    }
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "kill") == 0) {
        getppid(); /* the grate ends this cage here */
        puts("not reached");
    }
    return 3;
}
