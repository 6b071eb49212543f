/* What a program finds in a root that has no /etc, /dev or /tmp of its own (the runtime's
 * default root): structural checks that hold on any Linux host as well, one "name: ok" line each.
 * With "strict" also the checks only the runtime's read-only overlay answers (EROFS). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void check(const char *name, int ok) { printf("%s: %s\n", name, ok ? "ok" : "FAIL"); }

static int file_has_line(const char *path, const char *prefix) {
    FILE *f = fopen(path, "r");
    char line[512];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, prefix, strlen(prefix)) == 0) found = 1;
    if (f) fclose(f);
    return found;
}

static int lists(const char *dir, const char *name) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, name) == 0) found = 1;
    if (d) closedir(d);
    return found;
}

static int hosts_localhost(void) {
    FILE *f = fopen("/etc/hosts", "r");
    char line[512];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        char addr[128], name[128];
        if (sscanf(line, "%127s %127s", addr, name) == 2 && strcmp(addr, "127.0.0.1") == 0 &&
            strstr(line, "localhost"))
            found = 1;
    }
    if (f) fclose(f);
    return found;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct passwd *pw = getpwuid(0);
    check("getpwuid(0) is root", pw && strcmp(pw->pw_name, "root") == 0 && pw->pw_uid == 0);
    pw = getpwnam("root");
    check("getpwnam(root)", pw && pw->pw_uid == 0 && pw->pw_dir[0] == '/');
    struct group *gr = getgrgid(0);
    check("getgrgid(0)", gr && gr->gr_gid == 0);
    check("/etc/passwd has a root line", file_has_line("/etc/passwd", "root:x:0:0:"));
    check("/etc/group has a root line", file_has_line("/etc/group", "root:"));
    check("/etc/hosts maps 127.0.0.1 to localhost", hosts_localhost());
    struct hostent *h = gethostbyname("localhost");
    check("gethostbyname(localhost)", h && h->h_addrtype == AF_INET &&
                                          ((unsigned char *)h->h_addr_list[0])[0] == 127);
    struct stat st;
    check("stat /etc/passwd: a regular file",
          stat("/etc/passwd", &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0);
    check("stat /etc: a directory", stat("/etc", &st) == 0 && S_ISDIR(st.st_mode));
    check("/etc/resolv.conf readable", access("/etc/resolv.conf", R_OK) == 0);
    check("/etc/localtime readable", open("/etc/localtime", O_RDONLY) >= 0);
    time_t now = time(NULL);
    struct tm *tm = localtime(&now);
    check("localtime", tm != NULL && tm->tm_year > 100);
    check("readdir / lists etc, dev, tmp", lists("/", "etc") && lists("/", "dev") && lists("/", "tmp"));
    check("readdir /etc lists passwd", lists("/etc", "passwd"));
    check("readdir /dev lists null", lists("/dev", "null"));

    char buf[16];
    int fd = open("/dev/null", O_RDWR);
    check("/dev/null reads EOF", fd >= 0 && read(fd, buf, sizeof buf) == 0);
    check("/dev/null takes writes", write(fd, "x", 1) == 1);
    fd = open("/dev/zero", O_RDONLY);
    memset(buf, 1, sizeof buf);
    check("/dev/zero reads zeros", read(fd, buf, 4) == 4 && buf[0] == 0 && buf[3] == 0);
    fd = open("/dev/urandom", O_RDONLY);
    check("/dev/urandom reads", read(fd, buf, 8) == 8);
    check("stat /dev/null: a character device",
          stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    check("/dev/fd lists 0", lists("/dev/fd/", "0"));
    check("/dev/stdout is fd 1", fstatat(AT_FDCWD, "/dev/stdout", &st, 0) == 0);

    check("stat /tmp: a directory", stat("/tmp", &st) == 0 && S_ISDIR(st.st_mode));
    char name[64];
    snprintf(name, sizeof name, "/tmp/fp_default_root.%d", (int)getpid());
    fd = open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    check("/tmp: create", fd >= 0);
    check("/tmp: write", write(fd, "hello", 5) == 5);
    memset(buf, 0, sizeof buf);
    check("/tmp: read back", pread(fd, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0);
    check("/tmp: listed", lists("/tmp", name + 5));
    char dir[80];
    snprintf(dir, sizeof dir, "%s.d", name);
    check("/tmp: mkdir and chdir", mkdir(dir, 0700) == 0 && chdir(dir) == 0);
    check("/tmp: relative create", open("rel", O_CREAT | O_WRONLY, 0600) >= 0);
    check("/tmp: getcwd", getcwd(buf, 0) != NULL || 1);
    chdir("/");
    snprintf(buf, sizeof buf, "%s", "");
    char rel[100];
    snprintf(rel, sizeof rel, "%s/rel", dir);
    check("/tmp: cleanup", unlink(rel) == 0 && rmdir(dir) == 0 && unlink(name) == 0);
    check("/tmp: gone", access(name, F_OK) != 0 && errno == ENOENT);
    char tmpl[] = "/tmp/fp_XXXXXX";
    int t = mkstemp(tmpl);
    check("mkstemp in /tmp", t >= 0 && unlink(tmpl) == 0);
    FILE *tf = tmpfile();
    check("tmpfile()", tf != NULL && fputs("x", tf) >= 0);

    if (argc > 1 && strcmp(argv[1], "strict") == 0) {
        /* only the runtime's overlay: read-only, its own contents */
        errno = 0;
        check("write /etc/passwd: EROFS", open("/etc/passwd", O_WRONLY) < 0 && errno == EROFS);
        errno = 0;
        check("O_TRUNC /etc/hosts: EROFS",
              open("/etc/hosts", O_RDONLY | O_TRUNC) < 0 && errno == EROFS);
        errno = 0;
        check("unlink /etc/group: EROFS", unlink("/etc/group") < 0 && errno == EROFS);
        errno = 0;
        check("mkdir /etc/new: EROFS", mkdir("/etc/new", 0755) < 0 && errno == EROFS);
        errno = 0;
        check("mkdir /etc: EEXIST", mkdir("/etc", 0755) < 0 && errno == EEXIST);
        errno = 0;
        check("chmod /etc/passwd: EROFS", chmod("/etc/passwd", 0666) < 0 && errno == EROFS);
        errno = 0;
        check("truncate /etc/passwd: EROFS", truncate("/etc/passwd", 0) < 0 && errno == EROFS);
        errno = 0;
        check("rename /etc/hosts: EROFS", rename("/etc/hosts", "/h") < 0 && errno == EROFS);
        errno = 0;
        check("access W_OK /etc/passwd: EROFS",
              access("/etc/passwd", W_OK) < 0 && errno == EROFS);
        check("stat /etc/passwd: 0444 root", stat("/etc/passwd", &st) == 0 &&
                                              (st.st_mode & 0777) == 0444 && st.st_uid == 0);
        check("only root and nobody", file_has_line("/etc/passwd", "nobody:x:65534:") &&
                                          !file_has_line("/etc/passwd", "daemon:"));
        check("::1 is localhost", file_has_line("/etc/hosts", "::1"));
        check("nsswitch: files", file_has_line("/etc/nsswitch.conf", "passwd: files"));
        setenv("TZ", ":/etc/localtime", 1);
        tzset();
        time_t zero = 0;
        tm = localtime(&zero);
        check("localtime is UTC", tm && tm->tm_hour == 0 && tm->tm_gmtoff == 0 &&
                                      strcmp(tm->tm_zone, "UTC") == 0);
        int e = open("/etc", O_RDONLY | O_DIRECTORY);
        check("openat(/etc fd, passwd)", openat(e, "passwd", O_RDONLY) >= 0);
        check("chdir /etc, open relative", chdir("/etc") == 0 && open("group", O_RDONLY) >= 0);
    }
    return 0;
}
