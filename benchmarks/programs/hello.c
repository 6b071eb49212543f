/* Hello world: the start benchmark's program (a cold `lind_async run`, module cached). */
#include <stdio.h>

int main(void) {
    puts("hello, world");
    return 0;
}
