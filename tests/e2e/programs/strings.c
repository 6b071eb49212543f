/* libc's string routines that lind-musl reimplements (strspn, strcspn and strpbrk over them,
 * strlen, memcpy/memmove/memset, strcmp, strcoll in the C locale, snprintf's lone-integer path): every result printed, for many sets, lengths and
 * alignments, high bytes included; the output must match the native build's. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SETS[] = {
    "", "a", "-", "ab", "-+ #0", "-+ #0123456789", "0123456789", "abcdefghijklmnopqrstuvwxyz",
    " \t\r\n", "\x7f", "\x80", "a\xff", "\xc3\xa9", "%", "?!.,;:", "zyx\x01",
};

static unsigned long long sum; /* 64-bit on both sides (long is 32-bit in wasm32) */

static void span(const char *s) {
    for (size_t i = 0; i < sizeof SETS / sizeof *SETS; i++) {
        size_t a = strspn(s, SETS[i]), b = strcspn(s, SETS[i]);
        const char *p = strpbrk(s, SETS[i]);
        long pb = p ? (long)(p - s) : -1;
        sum = sum * 31 + a * 7 + b * 3 + (unsigned long long)pb;
        if (strlen(s) < 24) printf("[%s] set %zu: spn %zu cspn %zu pbrk %ld\n", s, i, a, b, pb);
    }
}

int main(void) {
    static const char *const WORDS[] = {
        "", "a", "aaab", "-+5d", "%-+ #012.3f", "123abc", "hello world", "  \t indented",
        "\x80\x81 high", "caf\xc3\xa9", "\xff\xfe", "abcdefghijklmnopqrstuvwxyz0123456789",
        "no-special-chars-at-all", "?!?!", "zyx\x01zz",
    };
    for (size_t i = 0; i < sizeof WORDS / sizeof *WORDS; i++) span(WORDS[i]);
    /* strcoll in the C locale: byte order, bytes compared as unsigned */
    for (size_t i = 0; i < sizeof WORDS / sizeof *WORDS; i++)
        for (size_t j = 0; j < sizeof WORDS / sizeof *WORDS; j++) {
            int c = strcoll(WORDS[i], WORDS[j]);
            printf("%c", c < 0 ? '<' : c > 0 ? '>' : '=');
            if (j + 1 == sizeof WORDS / sizeof *WORDS) printf("\n");
        }
    /* every alignment and length of a buffer, each byte position as the stop */
    char *buf = malloc(4096 + 16);
    for (int off = 0; off < 16; off++) {
        for (int len = 0; len < 200; len += 1 + len / 8) {
            char *s = buf + off;
            for (int k = 0; k < len; k++) s[k] = (char)('0' + (k * 7 + off) % 10);
            s[len] = 0;
            sum = sum * 31 + strlen(s) + strspn(s, "0123456789") + strcspn(s, "x-");
            if (len > 2) {
                s[len / 2] = '-';
                sum = sum * 31 + strspn(s, "0123456789") + strcspn(s, "x-") +
                      (unsigned long long)(strpbrk(s, "-+") - s);
                char *t = malloc((size_t)len + 1);
                memcpy(t, s, (size_t)len + 1);
                t[len - 1]++;
                int c = strcmp(s, t), d = strncmp(s, t, (size_t)len - 1);
                sum = sum * 31 + (unsigned long long)((c > 0) - (c < 0) + 2) + (d == 0);
                int e = strcoll(s, t), f = strcoll(t, s), g = strcoll(s, s);
                sum = sum * 31 + (unsigned long long)((e > 0) - (e < 0) + 2) * 9 +
                      (unsigned long long)((f > 0) - (f < 0) + 2) * 3 + (g == 0);
                memmove(t + 1, t, (size_t)len / 2);
                memset(t + len / 3, 'z', (size_t)len / 4);
                sum = sum * 31 + strlen(t) + (unsigned char)t[len / 3] + (unsigned char)t[len / 2];
                free(t);
            }
        }
    }
    free(buf);
    printf("checksum %llu\n", sum);
    /* snprintf: a lone %d/%i/%ld/%lld (lind-musl's short path) and its neighbours (musl's
     * path), at the limits, truncated to every buffer size */
    static const long long NUMS[] = {0, 1, -1, 9, 10, -10, 99, 100, 4294967295LL, 4294967296LL,
                                     -4294967296LL, 1234567890123LL, INT_MAX, INT_MIN,
                                     LLONG_MAX, LLONG_MIN};
    static const char *const FMTS[] = {"%lld", "%lli", "%5lld", "%-lld", "%+lld", "%lld;",
                                       " %lld", "%llu", "%llx", "%.3lld", "%lllld"};
    for (size_t i = 0; i < sizeof NUMS / sizeof *NUMS; i++) {
        char out[40];
        int a = snprintf(out, sizeof out, "%d", (int)NUMS[i]);
        printf("%d [%s]", a, out);
        a = snprintf(out, sizeof out, "%i", (int)NUMS[i]);
        printf(" %d [%s]", a, out);
        a = snprintf(out, sizeof out, "%ld", (long)(int)NUMS[i]);
        printf(" %d [%s]", a, out);
        for (size_t f = 0; f + 1 < sizeof FMTS / sizeof *FMTS; f++) {
            a = snprintf(out, sizeof out, FMTS[f], NUMS[i]);
            printf(" %d [%s]", a, out);
        }
        for (size_t n = 0; n < 22; n += 1 + n / 4) {
            memset(out, '#', sizeof out);
            a = snprintf(n ? out : NULL, n, "%lld", NUMS[i]);
            out[sizeof out - 1] = 0;
            printf(" %zu:%d[%s]", n, a, out);
        }
        printf("\n");
    }
    return 0;
}
