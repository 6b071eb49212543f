/* every path stays inside the root: .., absolute paths and symlinks */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static void show(const char *path) {
    char buf[128] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("%s: %s\n", path, strerror(errno)); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
    printf("%s: [%s]\n", path, buf);
}

int main(void) {
    show("../../etc/passwd");
    show("/etc/passwd");
    show("/../../../../etc/passwd");
    show("escape-abs");
    show("escape-rel");
    show("sub/../../../etc/hostname");
    char cwd[64];
    chdir("/../..");
    printf("cwd after chdir(/../..): %s\n", getcwd(cwd, sizeof cwd));
    return 0;
}
