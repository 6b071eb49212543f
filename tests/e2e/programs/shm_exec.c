/* A MAP_SHARED|MAP_ANONYMOUS mapping across fork + exec: a child writes to it and execs (the new
 * image has no such mapping, and the parent's stays intact); another child is still sharing it
 * after that; the parent then exits with it mapped. "shm_exec again" is the exec'd image. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "again") == 0) {
        /* a fresh image: a new shared mapping here is zero and private to this process */
        char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        printf("exec'd image: new mapping zero %d\n", p != MAP_FAILED && p[0] == 0);
        return 7;
    }
    char *s = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) { perror("mmap"); return 1; }
    strcpy(s, "before");
    fflush(stdout);
    pid_t a = fork();
    if (a == 0) {
        strcpy(s, "written by the child that execs");
        char *args[] = {"shm_exec", "again", NULL};
        execv("./shm_exec", args);
        perror("execv");
        _exit(1);
    }
    int st;
    waitpid(a, &st, 0);
    printf("exec child exit %d, parent sees '%s'\n", WEXITSTATUS(st), s);
    pid_t b = fork();
    if (b == 0) {
        strcpy(s + 4096, "second child");
        _exit(0);
    }
    waitpid(b, &st, 0);
    printf("second child exit %d, parent sees '%s'\n", WEXITSTATUS(st), s + 4096);
    return 0;  /* exits with the mapping still mapped */
}
