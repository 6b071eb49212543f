/* write -> read back -> stat -> rename -> unlink, directories, cwd, lseek, pread */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#define CHECK(x) do { if (!(x)) { printf("FAIL %s:%d %s (errno %d)\n", __FILE__, __LINE__, #x, errno); return 1; } } while (0)

int main(void) {
    const char *msg = "The quick brown fox jumps over the lazy dog\n";
    CHECK(mkdir("work", 0755) == 0);
    CHECK(mkdir("work", 0755) == -1 && errno == EEXIST);
    CHECK(chdir("work") == 0);
    char cwd[256];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    const char *tail = strrchr(cwd, '/');
    printf("cwd ends with %s\n", tail);

    int fd = open("data.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    for (int i = 0; i < 100; i++) CHECK(write(fd, msg, strlen(msg)) == (ssize_t)strlen(msg));
    CHECK(close(fd) == 0);
    CHECK(close(fd) == -1 && errno == EBADF);

    struct stat st;
    CHECK(stat("data.txt", &st) == 0);
    printf("size=%lld regular=%d mode=%o\n", (long long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);

    fd = open("data.txt", O_RDONLY);
    CHECK(fd >= 0);
    char buf[64];
    CHECK(read(fd, buf, 10) == 10);
    buf[10] = 0;
    printf("first10=[%s]\n", buf);
    CHECK(lseek(fd, -4, SEEK_END) == (off_t)(100 * strlen(msg) - 4));
    CHECK(read(fd, buf, sizeof buf) == 4);
    printf("last4=[%.3s]\n", buf);
    CHECK(pread(fd, buf, 5, 4) == 5);
    printf("pread=[%.5s]\n", buf);
    struct stat fst;
    CHECK(fstat(fd, &fst) == 0 && fst.st_size == st.st_size && fst.st_ino == st.st_ino);
    CHECK(write(fd, "x", 1) == -1 && errno == EBADF);
    close(fd);

    FILE *f = fopen("data.txt", "r");
    CHECK(f != NULL);
    int lines = 0;
    while (fgets(buf, sizeof buf, f)) lines++;
    fclose(f);
    printf("lines=%d\n", lines);

    CHECK(rename("data.txt", "moved.txt") == 0);
    CHECK(access("data.txt", F_OK) == -1 && errno == ENOENT);
    CHECK(access("moved.txt", R_OK | W_OK) == 0);
    CHECK(unlink("moved.txt") == 0);
    CHECK(stat("moved.txt", &st) == -1 && errno == ENOENT);
    CHECK(open("nope/x", O_RDONLY) == -1 && errno == ENOENT);
    CHECK(mkdir("sub", 0700) == 0);
    CHECK(rmdir("sub") == 0);
    CHECK(chdir("..") == 0);
    CHECK(rmdir("work") == 0);
    printf("done\n");
    return 0;
}
