/* directory listing through opendir/readdir (getdents64) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    mkdir("listing", 0755);
    char name[64];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "listing/file-%03d-with-a-long-name", i);
        int fd = open(name, O_CREAT | O_WRONLY, 0644);
        if (fd < 0) { perror("open"); return 1; }
        close(fd);
    }
    mkdir("listing/subdir", 0755);
    DIR *d = opendir("listing");
    if (!d) { perror("opendir"); return 1; }
    char *names[400];
    int n = 0, dirs = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type == DT_DIR) dirs++;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("entries=%d dirs=%d\n", n, dirs);
    printf("first=%s %s %s last=%s\n", names[0], names[1], names[2], names[n - 1]);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "listing/file-%03d-with-a-long-name", i);
        unlink(name);
    }
    rmdir("listing/subdir");
    printf("rmdir=%d\n", rmdir("listing"));
    return 0;
}
