/* files under /tmp and elsewhere; run under `namespace:/tmp=memfs` only /tmp is in memory */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *path, const char *text) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) { printf("open %s: %s\n", path, strerror(errno)); return; }
    write(fd, text, strlen(text));
    close(fd);
}

static void show(const char *path) {
    char buf[128] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("%s: %s\n", path, strerror(errno)); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    struct stat st;
    fstat(fd, &st);
    close(fd);
    printf("%s: %zd bytes, size %lld: %s", path, n, (long long)st.st_size, buf);
}

int main(void) {
    mkdir("/tmp", 0777);
    put("/tmp/inside.txt", "kept in the namespace\n");
    put("/outside.txt", "written to the root\n");
    chdir("/tmp");
    put("relative.txt", "relative to /tmp\n");
    chdir("/");
    show("/tmp/inside.txt");
    show("/tmp/relative.txt");
    show("/outside.txt");
    int fd = open("/tmp/inside.txt", O_RDONLY);
    int copy = dup(fd);
    lseek(copy, 5, SEEK_SET);
    char word[5] = {0};
    read(fd, word, 4);
    printf("dup shares the offset: %s\n", word);
    close(fd);
    close(copy);
    DIR *d = opendir("/tmp");
    int entries = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) entries += e->d_name[0] != '.';
    if (d) closedir(d);
    printf("entries in /tmp: %d\n", entries);
    printf("unlink inside: %d\n", unlink("/tmp/inside.txt"));
    printf("gone: %d\n", access("/tmp/inside.txt", F_OK) == -1 && errno == ENOENT);
    return 0;
}
