/* An ordinary C program: nothing here knows it runs in a cage. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    printf("Hello from cage %d!\n", (int)getpid());
    for (int i = 1; i < argc; i++) printf("  argument %d: %s\n", i, argv[i]);
    struct timespec nap = {0, 50 * 1000000L};
    nanosleep(&nap, NULL);
    char *buf = malloc(1 << 20);
    snprintf(buf, 1 << 20, "malloc, printf and nanosleep work; 1/3 = %.6Lf", 1.0L / 3);
    puts(buf);
    free(buf);
    return 0;
}
