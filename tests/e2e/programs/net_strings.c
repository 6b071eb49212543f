/* libc's message strings and locale names: strerror for every number up to 140 and a few out
 * of range, gai_strerror for every EAI_* code and unknown ones, hstrerror, and setlocale with
 * known and unknown names. Output is libc-specific (musl in a cage, glibc natively). */
#define _GNU_SOURCE
#include <errno.h>
#include <locale.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show_locale(const char *what, int cat, const char *name) {
    const char *r = setlocale(cat, name);
    printf("setlocale %s -> %s\n", what, r ? r : "(null)");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int e = -2; e <= 140; e++) printf("strerror %d: %s\n", e, strerror(e));
    printf("strerror %d: %s\n", 4096, strerror(4096));
    for (int c = 2; c >= -16; c--) printf("gai_strerror %d: %s\n", c, gai_strerror(c));
    printf("gai_strerror %d: %s\n", -100, gai_strerror(-100));
    for (int h = 0; h <= 5; h++) printf("hstrerror %d: %s\n", h, hstrerror(h));
    show_locale("query at start", LC_ALL, NULL);
    show_locale("LC_ALL xx_YY", LC_ALL, "xx_YY");
    show_locale("query", LC_ALL, NULL);
    printf("MB_CUR_MAX %d\n", (int)MB_CUR_MAX);
    show_locale("LC_ALL C", LC_ALL, "C");
    printf("MB_CUR_MAX %d\n", (int)MB_CUR_MAX);
    show_locale("LC_ALL POSIX", LC_ALL, "POSIX");
    show_locale("LC_ALL C.UTF-8", LC_ALL, "C.UTF-8");
    printf("MB_CUR_MAX %d\n", (int)MB_CUR_MAX);
    show_locale("LC_MESSAGES de_DE.UTF-8", LC_MESSAGES, "de_DE.UTF-8");
    show_locale("query mixed", LC_ALL, NULL);
    show_locale("LC_ALL \"\" (environment)", LC_ALL, "");
    show_locale("LC_CTYPE with a slash", LC_CTYPE, "../etc/passwd");
    show_locale("bad category", 99, "C");
    printf("strerror after locales %d: %s\n", ENOENT, strerror(ENOENT));
    return 0;
}
