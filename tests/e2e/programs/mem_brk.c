/* The program break as Linux keeps it: brk(2) (the raw call answers the break, the old one when
 * refused), brk()/sbrk() of libc (ENOMEM), growth and shrinking (pages given back read as zero
 * when grown again), a mapping above the break stops it one guard page short, MAP_FIXED over the
 * break's pages (a mapping like any other: mprotect, munmap, holes), fork copies the break.
 * Nothing here calls malloc (glibc's would move the break): output goes to a static buffer.
 *
 *   mem_brk            the comparable checks
 *   mem_brk show       prints the initial break (an address: not for native comparison)
 *   mem_brk exec PATH  grows the break, then execs PATH show */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096L
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static char out[16384];

static uintptr_t raw_brk(uintptr_t to) { return (uintptr_t)syscall(SYS_brk, to); }
static uintptr_t now(void) { return (uintptr_t)sbrk(0); }

static const char *err(int r) {
    static char buf[32];
    if (r == 0) return "ok";
    snprintf(buf, sizeof buf, "%s", errno == ENOMEM ? "ENOMEM" : errno == EEXIST ? "EEXIST"
             : errno == EINVAL ? "EINVAL" : "other");
    return buf;
}

static int map_err(void *p) { return p == MAP_FAILED ? -1 : 0; }

int main(int argc, char **argv) {
    setvbuf(stdout, out, _IOFBF, sizeof out);
    if (argc > 1 && strcmp(argv[1], "show") == 0) {
        printf("break %#lx\n", (unsigned long)now());
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "exec") == 0) {
        if (sbrk(1 << 20) == (void *)-1) return 1;
        fflush(stdout);
        execl(argv[2], argv[2], "show", (char *)0);
        return 2;
    }

    uintptr_t b0 = now();
    printf("initial break page aligned: %d\n", b0 % PAGE == 0);
    printf("raw brk(0) is sbrk(0): %d\n", raw_brk(0) == b0);

    /* sbrk grows and returns the old break */
    char *p = sbrk(10000);
    printf("sbrk(10000) returns the old break: %d\n", (uintptr_t)p == b0);
    printf("break moved by 10000: %d\n", now() - b0 == 10000);
    memset(p, 0x5a, 10000);
    int same = 1;
    for (int i = 0; i < 10000; i++) same &= p[i] == 0x5a;
    printf("new memory usable: %d\n", same);

    /* brk() to an address: 0; shrink keeps the partial page, frees whole pages */
    printf("brk(b0 + 4 pages): %s\n", err(brk((void *)(b0 + 4 * PAGE))));
    memset((char *)b0, 0x11, 4 * PAGE);
    printf("brk(b0 + page + 100): %s\n", err(brk((void *)(b0 + PAGE + 100))));
    printf("break is b0 + page + 100: %d\n", now() == b0 + PAGE + 100);
    printf("raw brk grows back: %d\n", raw_brk(b0 + 4 * PAGE) == b0 + 4 * PAGE);
    /* (glibc's sbrk trusts a copy of the break that the raw call just made stale) */
    printf("brk(b0 + 4 pages) again: %s\n", err(brk((void *)(b0 + 4 * PAGE))));
    printf("partial page kept: %d, freed pages read zero: %d %d\n",
           ((char *)b0)[PAGE + 200] == 0x11, ((char *)b0)[2 * PAGE + 5] == 0,
           ((char *)b0)[4 * PAGE - 1] == 0);
    printf("sbrk(-2 pages) returns the old break: %d\n",
           (uintptr_t)sbrk(-2 * PAGE) == b0 + 4 * PAGE);

    /* refused moves: the raw call answers the unchanged break, libc says ENOMEM */
    uintptr_t b = now();
    printf("raw brk below the start: unchanged %d\n", raw_brk(PAGE) == b);
    printf("raw brk to the top of memory: unchanged %d\n", raw_brk((uintptr_t)-PAGE) == b);
    errno = 0;
    printf("brk(top): %s\n", err(brk((void *)-PAGE)));
    errno = 0;
    printf("sbrk(INTPTR_MAX): %s\n", sbrk(INTPTR_MAX) == (void *)-1 ? err(-1) : "ok");
    printf("break unchanged: %d\n", now() == b);

    /* a mapping above the break: the break stops one guard page below it */
    char *above = mmap((void *)(b + 2 * PAGE), PAGE, PROT_READ | PROT_WRITE, ANON | MAP_FIXED,
                       -1, 0);
    printf("MAP_FIXED two pages above the break: %s\n", err(map_err(above)));
    printf("brk up to one page below it: %s\n", err(brk((void *)(b + PAGE))));
    printf("brk up to it: %s\n", err(brk((void *)(b + 2 * PAGE))));
    printf("brk one byte into the guard page: %s\n", err(brk((void *)(b + PAGE + 1))));
    printf("raw brk over it: unchanged %d\n", raw_brk(b + 3 * PAGE) == b + PAGE);
    printf("munmap it: %s\n", err(munmap(above, PAGE)));
    printf("brk over where it was: %s\n", err(brk((void *)(b + 8 * PAGE))));

    /* the break's pages are a mapping like any other */
    char *heap = (char *)b;
    memset(heap, 0x22, 8 * PAGE);
    char *fixed = mmap(heap + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, -1, 0);
    printf("MAP_FIXED over the break's pages: %s, zero %d, neighbours kept %d %d\n",
           err(map_err(fixed)), fixed[0] == 0 && fixed[PAGE - 1] == 0, heap[2 * PAGE - 1] == 0x22,
           heap[3 * PAGE] == 0x22);
    printf("MAP_FIXED_NOREPLACE over the break's pages: %s\n",
           err(map_err(mmap(heap + 4 * PAGE, PAGE, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0))));
    printf("mprotect the break's pages: %s\n", err(mprotect(heap, 2 * PAGE, PROT_READ)));
    printf("mprotect them back: %s\n", err(mprotect(heap, 8 * PAGE, PROT_READ | PROT_WRITE)));
    printf("munmap a page of the break: %s\n", err(munmap(heap + 5 * PAGE, PAGE)));
    printf("mprotect the hole: %s\n", err(mprotect(heap + 4 * PAGE, 2 * PAGE, PROT_READ)));
    printf("madvise the hole: %s\n", err(madvise(heap + 5 * PAGE, PAGE, MADV_DONTNEED)));
    printf("break unchanged by the hole: %d\n", now() == b + 8 * PAGE);
    printf("shrink below the hole: %s\n", err(brk((void *)(b + 3 * PAGE))));
    printf("grow over it again: %s\n", err(brk((void *)(b + 8 * PAGE))));
    printf("grown pages read zero: %d\n", heap[5 * PAGE] == 0 && heap[3 * PAGE] == 0);
    printf("mprotect the old hole: %s\n", err(mprotect(heap + 4 * PAGE, 2 * PAGE, PROT_READ)));

    /* fork copies the break and its contents; the child's moves are its own */
    heap[100] = 42;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child: same break %d, same contents %d\n", now() == b + 8 * PAGE,
               heap[100] == 42);
        heap[100] = 7;
        printf("child: sbrk(3 pages) %s\n", sbrk(3 * PAGE) == (void *)-1 ? "ENOMEM" : "ok");
        memset(heap + 8 * PAGE, 1, 3 * PAGE);
        printf("child: break moved %d\n", now() == b + 11 * PAGE);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("parent: break %d, contents %d, child status %d\n", now() == b + 8 * PAGE,
           heap[100] == 42, status);
    printf("parent: sbrk(3 pages) %s\n", sbrk(3 * PAGE) == (void *)-1 ? "ENOMEM" : "ok");
    printf("parent: grows where the child grew, zero %d\n", heap[9 * PAGE] == 0);
    return 0;
}
