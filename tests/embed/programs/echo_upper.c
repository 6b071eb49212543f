/* copies stdin to stdout in upper case; a line to stderr at the end; exits with argv[1] (or 0) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char buf[4096];
    ssize_t n;
    long total = 0;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) buf[i] = (char)toupper((unsigned char)buf[i]);
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(1, buf + done, (size_t)(n - done));
            if (w < 0) return 3;
            done += w;
        }
        total += n;
    }
    fprintf(stderr, "echoed %ld bytes\n", total);
    return argc > 1 ? atoi(argv[1]) : 0;
}
