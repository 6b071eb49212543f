/* Host stdio is a stream, not a name: every route to name, widen or change the host file behind
 * stdout (a host file outside the root) must be refused. One line per attempt on stderr:
 * "what: OK" or "what: ERRNO". Then the stream itself must still work: fstat, lseek, write.
 * With the argument "granted" the metadata calls are expected to work (the embedder opted in),
 * the name routes still not. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *errname(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    default: return strerror(e);
    }
}

static void report(const char *what, int r) {
    fprintf(stderr, "%s: %s\n", what, r >= 0 ? "OK" : errname(errno));
}

#define TRY(what, call) do { errno = 0; report(what, (call)); } while (0)

int main(int argc, char **argv) {
    int granted = argc > 1 && strcmp(argv[1], "granted") == 0;
    setvbuf(stderr, NULL, _IONBF, 0);
    struct timespec times[2] = {{.tv_sec = 1, .tv_nsec = 0}, {.tv_sec = 1, .tv_nsec = 0}};
    /* a name for the host file inside the root */
    TRY("linkat AT_EMPTY_PATH", linkat(1, "", AT_FDCWD, "/x1", AT_EMPTY_PATH));
    TRY("linkat /dev/stdout follow", linkat(AT_FDCWD, "/dev/stdout", AT_FDCWD, "/x2", AT_SYMLINK_FOLLOW));
    TRY("linkat /proc/self/fd/1 follow", linkat(AT_FDCWD, "/proc/self/fd/1", AT_FDCWD, "/x3", AT_SYMLINK_FOLLOW));
    TRY("linkat /dev/fd/1 follow", linkat(AT_FDCWD, "/dev/fd/1", AT_FDCWD, "/x4", AT_SYMLINK_FOLLOW));
    TRY("link /dev/stdout", link("/dev/stdout", "/x5"));
    TRY("renameat fd 1", renameat(1, "", AT_FDCWD, "/x6"));
    TRY("symlink to /proc/self/fd/1", symlink("/proc/self/fd/1", "/s"));
    TRY("open through that symlink", open("/s", O_WRONLY));
    char buf[256] = {0};
    ssize_t n = readlink("/proc/self/fd/1", buf, sizeof buf - 1);
    fprintf(stderr, "readlink /proc/self/fd/1: %s\n", n < 0 ? errname(errno) : buf);
    n = readlink("/dev/stdout", buf, sizeof buf - 1);
    if (n >= 0) buf[n] = 0;
    fprintf(stderr, "readlink /dev/stdout: %s\n", n < 0 ? errname(errno) : buf);
    /* a path relative to it */
    TRY("openat fd 1", openat(1, "x", O_RDONLY));
    TRY("openat fd 1 dotdot", openat(1, "../../etc/passwd", O_RDONLY));
    TRY("fchdir fd 1", fchdir(1));
    /* wider access */
    TRY("open /proc/self/fd/1 O_RDWR", open("/proc/self/fd/1", O_RDWR));
    TRY("open /dev/stdout O_RDONLY", open("/dev/stdout", O_RDONLY));
    TRY("open /dev/fd/1 O_RDWR", open("/dev/fd/1", O_RDWR));
    TRY("mmap shared writable", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 1, 0) == MAP_FAILED ? -1 : 0);
    /* metadata */
    TRY("fchmod", fchmod(1, 0777));
    TRY("chmod /dev/stdout", chmod("/dev/stdout", 0777));
    TRY("chmod /proc/self/fd/1", chmod("/proc/self/fd/1", 0777));
    TRY("fchmodat /dev/fd/1", fchmodat(AT_FDCWD, "/dev/fd/1", 0777, 0));
    TRY("fchown", fchown(1, getuid(), getgid()));
    TRY("fchownat AT_EMPTY_PATH", fchownat(1, "", getuid(), getgid(), AT_EMPTY_PATH));
    TRY("chown /dev/stdout", chown("/dev/stdout", getuid(), getgid()));
    TRY("futimens", futimens(1, times));
    TRY("utimensat AT_EMPTY_PATH", utimensat(1, "", times, AT_EMPTY_PATH));
    TRY("utimensat /dev/stdout", utimensat(AT_FDCWD, "/dev/stdout", times, 0));
    TRY("utimensat /dev/stdout nofollow", utimensat(AT_FDCWD, "/dev/stdout", times, AT_SYMLINK_NOFOLLOW));
    if (!granted) {
        TRY("ftruncate", ftruncate(1, 0));
        TRY("truncate /dev/stdout", truncate("/dev/stdout", 0));
        TRY("truncate /proc/self/fd/1", truncate("/proc/self/fd/1", 0));
        TRY("fallocate", fallocate(1, 0, 0, 1 << 20));
    } else {
        TRY("fallocate", fallocate(1, 0, 0, 1 << 16));
        TRY("ftruncate", ftruncate(1, 3));
    }
    /* the stream itself keeps working */
    struct stat st;
    TRY("fstat", fstat(1, &st));
    TRY("fstatat AT_EMPTY_PATH", fstatat(1, "", &st, AT_EMPTY_PATH));
    TRY("lseek", (int)lseek(1, 0, SEEK_END));
    TRY("write", (int)write(1, "ok\n", 3));
    int again = open("/dev/stdout", O_WRONLY | O_TRUNC);
    report("open /dev/stdout O_WRONLY|O_TRUNC", again);
    TRY("write through it", (int)write(again, "ok\n", 3));
    return 0;
}
