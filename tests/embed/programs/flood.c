/* writes argv[1] KiB to stdout in 1 KiB writes, then "done" to stderr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char buf[1024];
    memset(buf, 'x', sizeof buf);
    int kib = argc > 1 ? atoi(argv[1]) : 0;
    for (int i = 0; i < kib; i++) {
        for (size_t done = 0; done < sizeof buf;) {
            ssize_t w = write(1, buf + done, sizeof buf - done);
            if (w < 0) return 1;
            done += (size_t)w;
        }
    }
    fprintf(stderr, "done\n");
    return 0;
}
