/* crash on purpose: through a null function pointer, or __builtin_trap */
#include <stdio.h>
#include <string.h>

typedef int (*fn_t)(int);
volatile fn_t target = 0;

int main(int argc, char **argv) {
    printf("about to crash\n");
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "trap") == 0) __builtin_trap();
    return target(1);
}
