/* Stack arithmetic as real programs do it (QuickJS's stack-overflow guard, sp - RLIMIT_STACK)
 * must not wrap, the main stack is Linux's 8 MiB, and a recursion bounded by the program's own
 * stack-pointer guard ends with the program's error, not a crash. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static uintptr_t limit;

/* A recursion a program bounds itself: returns -1 once the guard trips (like a JS engine's
 * "InternalError: stack overflow"), else the depth reached. */
static int descend(int depth) {
    volatile char frame[96];
    frame[0] = (char)depth;
    if ((uintptr_t)frame < limit) return -1;
    if (depth >= 1000000) return depth;
    int r = descend(depth + 1);
    return r < 0 ? r : r + frame[0] * 0;
}

static void fill(char *page, size_t n) { memset(page, 1, n); }
static void (*volatile opaque_fill)(char *, size_t) = fill;  /* the compiler cannot see through */

/* Uses about `kib` KiB of stack in one frame chain (a deep but legitimate recursion). */
static int use_stack(int kib) {
    char page[1024];
    opaque_fill(page, sizeof page);
    return kib ? use_stack(kib - 1) + page[7] - 1 : 0;
}

int main(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_STACK, &rl);
    printf("RLIMIT_STACK %llu MiB\n", (unsigned long long)rl.rlim_cur >> 20);
    volatile char here = 0;
    uintptr_t top = (uintptr_t)&here;
    printf("top - RLIMIT_STACK wraps: %s\n", top - rl.rlim_cur > top ? "yes" : "no");
    printf("top - 1 MiB wraps: %s\n", top - (1u << 20) > top ? "yes" : "no");
    limit = top - (1u << 20);  /* a 1 MiB budget for the interpreter, as QuickJS's default */
    printf("guarded recursion: %s\n", descend(0) < 0 ? "stopped by its own guard" : "no guard");
    printf("6 MiB of stack: %s\n", use_stack(6 * 1024) == 0 ? "fine" : "wrong");
    return 0;
}
