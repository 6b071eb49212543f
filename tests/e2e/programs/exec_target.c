/* the program exec_parent becomes */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    printf("target argc=%d\n", argc);
    for (int i = 0; i < argc && i < 2; i++) printf("  argv[%d]=%s\n", i, argv[i]);
    printf("  GREETING=%s\n", getenv("GREETING"));
    printf("  kept fd 10: %d\n", fcntl(10, F_GETFD) >= 0);
    errno = 0;
    printf("  cloexec fd 11 closed: %d\n", fcntl(11, F_GETFD) == -1 && errno == EBADF);
    printf("  pid unchanged: %d\n", argc > 2 && atoi(argv[2]) == getpid());
    return 5;
}
