/* Attacks on the default root's overlay (/etc, /dev, /tmp provided by the runtime): reach a host
 * file outside the root through the overlaid names (.., symlinks in the private /tmp, absolute
 * symlinks, /proc/self/fd of an overlaid file), or change an overlaid entry. Each line: the
 * attempt and what it got ("refused ERRNO", "read N bytes", "SECRET" if the host secret leaked). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static void try_read(const char *label, const char *path) {
    char buf[256] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: refused %d\n", label, errno);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("%s: %s\n", label, strstr(buf, "HOST-SECRET") ? "SECRET" : (n >= 0 ? "read" : "error"));
}

static void expect(const char *label, int rc) { printf("%s: %s %d\n", label, rc < 0 ? "refused" : "DONE", rc < 0 ? errno : 0); }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *secret = argv[1]; /* its host path, e.g. /…/host-tmp/secret */
    const char *secret_name = strrchr(secret, '/') + 1;
    char path[512];

    /* .. out of the overlaid names */
    snprintf(path, sizeof path, "/tmp/../%s", secret_name);
    try_read("/tmp/../secret", path);
    snprintf(path, sizeof path, "/tmp/../../../../../..%s", secret);
    try_read("/tmp/../../.. host path", path);
    snprintf(path, sizeof path, "/etc/../..%s", secret);
    try_read("/etc/../.. host path", path);
    snprintf(path, sizeof path, "/dev/../../%s", secret_name);
    try_read("/dev/../secret", path);
    try_read("host path itself", secret);

    /* symlinks made in the private /tmp */
    symlink("../secret", "/tmp/up");
    try_read("through /tmp/up", "/tmp/up");
    snprintf(path, sizeof path, "../../../../../..%s", secret);
    symlink(path, "/tmp/deep");
    try_read("through /tmp/deep", "/tmp/deep");
    symlink(secret, "/tmp/abs");
    try_read("through /tmp/abs (absolute host path)", "/tmp/abs");
    symlink("/", "/tmp/slash");
    snprintf(path, sizeof path, "/tmp/slash/..%s", secret);
    try_read("through /tmp/slash/..", path);
    mkdir("/tmp/d", 0700);
    chdir("/tmp/d");
    snprintf(path, sizeof path, "../../%s", secret_name);
    try_read("relative ../../secret from /tmp/d", path);
    chdir("/");
    int dirfd = open("/tmp", O_RDONLY | O_DIRECTORY);
    snprintf(path, sizeof path, "../%s", secret_name);
    int fd = openat(dirfd, path, O_RDONLY);
    printf("openat(/tmp fd, ../secret): %s\n", fd < 0 ? "refused" : "OPENED");
    fchdir(dirfd);
    chdir("..");
    char cwd[256];
    printf("cwd after fchdir /tmp and ..: %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    chdir("/");

    /* a symlink in the root towards the overlay does not reach it, nor anything beyond */
    symlink("/etc/passwd", "/lpass");
    try_read("root symlink to /etc/passwd", "/lpass");
    symlink("/tmp/../../..", "/lup");
    snprintf(path, sizeof path, "/lup%s", secret);
    try_read("root symlink /tmp/../../.. + host path", path);

    /* /proc/self/fd of an overlaid file: reopening it stays read-only */
    fd = open("/etc/passwd", O_RDONLY);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    expect("reopen overlaid fd for writing", open(path, O_WRONLY));
    expect("write to overlaid fd", (int)write(fd, "x", 1));
    expect("ftruncate overlaid fd", ftruncate(fd, 0));

    /* changing overlaid entries */
    expect("open /etc/passwd O_RDWR", open("/etc/passwd", O_RDWR));
    expect("creat /etc/shadow", open("/etc/shadow", O_CREAT | O_WRONLY, 0600));
    expect("unlink /etc/passwd", unlink("/etc/passwd"));
    expect("rmdir /etc", rmdir("/etc"));
    expect("rename /tmp file over /etc/passwd",
           (close(open("/tmp/f", O_CREAT | O_WRONLY, 0600)), rename("/tmp/f", "/etc/passwd")));
    expect("link /etc/passwd into /tmp", link("/etc/passwd", "/tmp/hard"));
    expect("symlink in /etc", symlink("/tmp", "/etc/evil"));
    expect("mkdir /dev/x", mkdir("/dev/x", 0700));
    expect("mknod /dev/sda", mknod("/dev/sda", S_IFBLK | 0600, makedev(8, 0)));
    expect("chmod /etc/hosts", chmod("/etc/hosts", 0666));
    expect("chown /etc/hosts", chown("/etc/hosts", 0, 0));
    expect("utime /etc/hosts", utimensat(AT_FDCWD, "/etc/hosts", NULL, 0));
    expect("truncate /etc/hosts", truncate("/etc/hosts", 0));
    expect("rmdir /tmp", rmdir("/tmp"));
    expect("rename /tmp away", rename("/tmp", "/gone"));
    return 0;
}
