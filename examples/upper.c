/* echoes stdin in upper case; with the argument "spin" it computes forever instead */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "spin") == 0) {
        volatile unsigned long x = 1;
        for (;;) x = x * 3 + 1;
    }
    int c;
    while ((c = getchar()) != EOF) putchar(toupper(c));
    return 0;
}
