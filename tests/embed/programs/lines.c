/* writes, in one write(), a line of each length given (counting its '\n'), made of 'a', 'b'...;
   then exits */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char buf[4096];
    size_t used = 0;
    for (int i = 1; i < argc; i++) {
        size_t n = (size_t)atoi(argv[i]);
        if (n == 0 || used + n > sizeof buf) return 2;
        memset(buf + used, 'a' + (i - 1) % 26, n - 1);
        buf[used + n - 1] = '\n';
        used += n;
    }
    return write(1, buf, used) == (ssize_t)used ? 0 : 1;
}
