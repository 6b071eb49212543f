/* Resource hog: open descriptors until the kernel (or the microvisor) says no, report how many
 * and why, then hold them until stdin closes.
 *
 *   res_hog            open "/" until failure; print "opened N then ERRNO"; hold
 *   res_hog neighbour  print that it runs; open 10 descriptors and say how that went
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *name(int e) {
    return e == EMFILE ? "EMFILE" : e == ENFILE ? "ENFILE" : strerror(e);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "neighbour")) {
        int ok = 0, err = 0;
        for (int i = 0; i < 10; i++) {
            int fd = open("/", O_RDONLY | O_DIRECTORY);
            if (fd >= 0) ok++;
            else err = errno;
        }
        printf("neighbour runs: opened %d of 10%s%s\n", ok, err ? ", then " : "",
               err ? name(err) : "");
        return 0;
    }
    int n = 0;
    for (;;) {
        if (open("/", O_RDONLY | O_DIRECTORY) < 0) break;
        n++;
    }
    printf("opened %d then %s\n", n, name(errno));
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}
