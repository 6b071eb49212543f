/* process calls made under a grate that interposes and forwards them */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1) {   /* the exec'd image */
        printf("image: pid kept %d, euid from grate %d\n", getpid() == atoi(argv[1]), (int)geteuid());
        fflush(stdout);
        _exit(9);
    }
    char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(m, 7, 1 << 20);
    printf("mmap through the grate: %d\n", m != MAP_FAILED && m[12345] == 7);
    printf("euid from grate: %d\n", (int)geteuid());
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child: euid from grate %d\n", (int)geteuid());
        fflush(stdout);
        char me[16];
        snprintf(me, sizeof me, "%d", (int)getpid());
        char *args[] = {"grate_process", me, NULL};
        execv("./grate_process", args);
        _exit(127);
    }
    printf("parent: fork returned %d\n", pid);
    fflush(stdout);
    int status;
    pid_t real = wait(&status);
    printf("parent: child exited %d\n", WEXITSTATUS(status));
    printf("parent: real child pid differs from what the grate said: %d\n", real != pid);
    return 3;
}
