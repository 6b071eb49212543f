/* `yes` that ignores write errors: only SIGPIPE ends it once the reader is gone. `stdio` writes
 * through stdio (puts), otherwise through write(2). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int use_stdio = argc > 1 && strcmp(argv[1], "stdio") == 0;
    for (;;) {
        if (use_stdio)
            puts("y");
        else
            write(1, "y\n", 2);
    }
}
