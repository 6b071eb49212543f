/* argv, environment, exit status */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("hello from a cage\n");
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    const char *name = getenv("NAME");
    printf("NAME=%s\n", name ? name : "(unset)");
    printf("MISSING=%s\n", getenv("MISSING") ? "set" : "(unset)");
    return 3;
}
