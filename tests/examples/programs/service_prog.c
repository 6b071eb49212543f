/* A program for examples/http_service.py's tests; the first argument picks what it does:
 *   (none)  echo stdin in upper case        write  create /secret in its root
 *   read    try to read /secret             spin   compute forever
 *   fail    exit with status 3              big    print 2 MiB
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "spin") == 0) {
        volatile unsigned long x = 1;
        for (;;) x = x * 3 + 1;
    }
    if (strcmp(mode, "fail") == 0) {
        puts("failing");
        return 3;
    }
    if (strcmp(mode, "big") == 0) {
        for (int i = 0; i < 2 * 1024 * 1024 / 64; i++)
            fputs("0123456789012345678901234567890123456789012345678901234567890123", stdout);
        return 0;
    }
    if (strcmp(mode, "write") == 0) {
        FILE *f = fopen("/secret", "w");
        if (!f) { printf("fopen: %s\n", strerror(errno)); return 1; }
        fputs("request one's data\n", f);
        fclose(f);
        puts("wrote /secret");
        return 0;
    }
    if (strcmp(mode, "read") == 0) {
        FILE *f = fopen("/secret", "r");
        if (!f) { printf("no /secret: %s\n", strerror(errno)); return 0; }
        char buf[128] = {0};
        fgets(buf, sizeof buf, f);
        printf("read /secret: %s", buf);
        return 0;
    }
    int c;
    while ((c = getchar()) != EOF) putchar(toupper(c));
    return 0;
}
