/* Execs the file named by argv[1] and reports the errno when execve refuses it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char *args[] = {argv[1], 0};
    execv(argv[1], args);
    printf("execv %s: %s\n", argv[1], strerror(errno));
    return 1;
}
