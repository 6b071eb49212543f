/* RLIMIT_NOFILE as Linux keeps it: a process lowers its soft limit, opens until EMFILE, and the
 * calls that name descriptor numbers check against the limit. Output is the same natively. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *name(int e) {
    switch (e) {
    case EMFILE: return "EMFILE";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    default: return strerror(e);
    }
}

static void say(const char *what, int r) {
    printf("%-34s %d %s\n", what, r, r < 0 ? name(errno) : "");
}

int main(void) {
    struct rlimit rl;
    say("getrlimit", getrlimit(RLIMIT_NOFILE, &rl));
    printf("soft <= hard: %d\n", rl.rlim_cur <= rl.rlim_max);
    struct rlimit low = {32, rl.rlim_max};
    say("setrlimit soft 32", setrlimit(RLIMIT_NOFILE, &low));
    int n = 0;
    while (open("/", O_RDONLY | O_DIRECTORY) >= 0) n++;
    printf("opened %d more, then %s\n", n, name(errno));
    say("dup2 to 32", dup2(0, 32));
    say("dup2 to 31 (taken)", dup2(0, 31));
    say("fcntl F_DUPFD 32", fcntl(0, F_DUPFD, 32));
    say("fcntl F_DUPFD 20 (none free)", fcntl(0, F_DUPFD, 20));
    struct pollfd pfd[64] = {{0}};
    say("poll nfds 33", poll(pfd, 33, 0));
    say("close 10", close(10));
    say("open again", open("/", O_RDONLY | O_DIRECTORY));
    struct rlimit bad = {rl.rlim_max + 1, rl.rlim_max};
    say("setrlimit soft > hard", setrlimit(RLIMIT_NOFILE, &bad));
    struct rlimit hard16 = {16, 16};
    say("setrlimit hard 16", setrlimit(RLIMIT_NOFILE, &hard16));
    say("open (31 open, limit 16)", open("/", O_RDONLY | O_DIRECTORY));
    struct rlimit up = {32, 16};
    say("raise soft past hard 16", setrlimit(RLIMIT_NOFILE, &up));
    say("getrlimit", getrlimit(RLIMIT_NOFILE, &rl));
    printf("now %llu %llu\n", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    return 0;
}
