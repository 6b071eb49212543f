/* /tmp under `namespace:/tmp=memfs` exists from the start: a file is created in it at once
   (O_CREAT), the directory is stat-ed, listed and changed. argv[1]: the directory (natively a
   fresh one; "/tmp" in the cage). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[4096];

static const char *at(const char *dir, const char *name) {
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static const char *outcome(int result) { return result < 0 ? strerror(errno) : "ok"; }

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *label, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) { printf("%s: opendir: %s\n", label, strerror(errno)); return; }
    char *names[64];
    int n = 0, dots = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) { dots++; continue; }
        char *s = malloc(strlen(e->d_name) + 3);
        sprintf(s, "%s%s", e->d_name, e->d_type == DT_DIR ? "/" : e->d_type == DT_REG ? "" : "?");
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    printf("%s: . and .. %d,", label, dots);
    for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    struct stat st;
    int r = stat(dir, &st);
    printf("stat the directory: %s, a directory: %d\n", outcome(r), r == 0 && S_ISDIR(st.st_mode));
    list("empty at first", dir);
    printf("mkdir it: %s\n", outcome(mkdir(dir, 0755)));

    int fd = open(at(dir, "first.txt"), O_CREAT | O_EXCL | O_WRONLY, 0644);
    printf("create at once: fd %d\n", fd);
    printf("write: %zd\n", write(fd, "hello, memfs\n", 13));
    printf("close: %s\n", outcome(close(fd)));
    printf("create again with O_EXCL: %s\n",
           outcome(open(at(dir, "first.txt"), O_CREAT | O_EXCL | O_WRONLY, 0644)));
    r = stat(at(dir, "first.txt"), &st);
    printf("stat it: %s, regular %d, size %lld\n", outcome(r), S_ISREG(st.st_mode),
           (long long)st.st_size);

    char buf[64] = {0};
    fd = open(at(dir, "first.txt"), O_RDONLY);
    printf("read back: %zd: %s", read(fd, buf, sizeof buf - 1), buf);
    close(fd);

    FILE *f = fopen(at(dir, "stdio.txt"), "w");  /* stdio writes and reads with writev/readv */
    fprintf(f, "%d lines\nthrough stdio\n", 2);
    printf("fclose: %d\n", fclose(f));
    f = fopen(at(dir, "stdio.txt"), "r");
    char line[64];
    while (fgets(line, sizeof line, f)) printf("fgets: %s", line);
    fclose(f);
    unlink(at(dir, "stdio.txt"));

    printf("mkdir sub: %s\n", outcome(mkdir(at(dir, "sub"), 0755)));
    int dfd = open(at(dir, "sub"), O_RDONLY | O_DIRECTORY);
    printf("open sub as a directory: fd %d\n", dfd);
    fd = openat(dfd, "inner.txt", O_CREAT | O_WRONLY, 0600);
    printf("openat(sub, inner.txt, O_CREAT): fd %d\n", fd);
    close(fd);
    close(dfd);
    list("listed", dir);
    list("sub", at(dir, "sub"));

    printf("unlink first.txt: %s\n", outcome(unlink(at(dir, "first.txt"))));
    printf("rmdir sub (not empty): %s\n", outcome(rmdir(at(dir, "sub"))));
    printf("unlink inner.txt: %s\n", outcome(unlink(at(dir, "sub/inner.txt"))));
    printf("rmdir sub: %s\n", outcome(rmdir(at(dir, "sub"))));
    list("at the end", dir);
    return 0;
}
