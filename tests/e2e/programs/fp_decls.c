/* A program that declares libc functions itself, the way code written for glibc does (its own
 * prototypes before or instead of the headers' ones), then uses them. Compiles against glibc and
 * lind-musl alike: ioctl's request is an unsigned long, __gnuc_va_list exists. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int renameat(int, const char *, int, const char *);
extern char **environ;
int getopt(int, char *const[], const char *);
extern char *optarg;
extern int optind;
char *strdup(const char *);
int asprintf(char **, const char *, ...);
int vasprintf(char **, const char *, __gnuc_va_list);
int ioctl(int, unsigned long, ...);
int open(const char *, int, ...);
int close(int);
int unlink(const char *);

static char *format(const char *fmt, ...) {
    char *out = NULL;
    __gnuc_va_list ap;
    va_start(ap, fmt);
    vasprintf(&out, fmt, ap);
    va_end(ap);
    return out;
}

int main(int argc, char **argv) {
    int c;
    while ((c = getopt(argc, argv, "a:b")) != -1) printf("option %c %s\n", c, c == 'a' ? optarg : "-");
    printf("operands from %d of %d\n", optind, argc);
    char *s = NULL;
    asprintf(&s, "%d-%s", 42, strdup("dup"));
    printf("asprintf %s, vasprintf %s\n", s, format("%s/%d", "v", 7));
    int env = 0;
    for (char **e = environ; *e; e++) env += strncmp(*e, "FP_DECLS=", 9) == 0;
    printf("environ has FP_DECLS: %d\n", env);
    int fd = open("a", 0101, 0644); /* O_WRONLY|O_CREAT */
    close(fd);
    int r = renameat(-100, "a", -100, "b"); /* AT_FDCWD */
    printf("renameat %d, old gone %d\n", r, access("a", F_OK) != 0);
    unlink("b");
    int p[2];
    pipe(p);
    write(p[1], "abc", 3);
    int n = -1;
    r = ioctl(p[0], FIONREAD, &n);
    printf("ioctl FIONREAD %d: %d\n", r, n);
    return 0;
}
