/* exec keeps the descriptors of files in argv[1] (/tmp under `namespace:/tmp=memfs`) that are
   not close-on-exec, with their offsets, and closes the others; argv[2] is this program's path */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *dir = argv[1];
    char path[4096], buf[16] = {0};
    if (argc > 3) { /* after the exec */
        int r = fcntl(3, F_GETFD);
        printf("exec'd: fd 3 %s; fd 4 flags %d", r < 0 ? strerror(errno) : "still open",
               fcntl(4, F_GETFD));
        printf(", reads on: %zd \"%s\"\n", read(4, buf, 5), buf);
        snprintf(path, sizeof path, "%s/after", dir);
        printf("a new file gets fd %d\n", open(path, O_CREAT | O_RDWR, 0644));
        return 0;
    }
    snprintf(path, sizeof path, "%s/closed", dir);
    int gone = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    snprintf(path, sizeof path, "%s/kept", dir);
    int kept = open(path, O_CREAT | O_RDWR, 0644);
    write(kept, "0123456789", 10);
    lseek(kept, 3, SEEK_SET);
    printf("before exec: cloexec fd %d, fd %d\n", gone, kept);
    fflush(stdout);
    execl(argv[2], argv[2], dir, argv[2], "again", (char *)0);
    printf("execl: %s\n", strerror(errno));
    return 1;
}
