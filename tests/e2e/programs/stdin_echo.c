/* reads stdin to EOF (through the non-blocking host stream) and reports what it saw */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    char buf[4096];
    long total = 0, lines = 0;
    unsigned sum = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) { sum = sum * 31 + (unsigned char)buf[i]; lines += buf[i] == '\n'; }
        total += n;
    }
    printf("bytes=%ld lines=%ld sum=%u last_read=%zd\n", total, lines, sum, n);
    return 0;
}
