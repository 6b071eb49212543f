/* mremap (shrink, grow in place, ENOMEM without MREMAP_MAYMOVE, move, MREMAP_FIXED; anonymous,
 * shared and file mappings keep their contents), madvise(MADV_DONTNEED) as Linux, MAP_FIXED over
 * an existing mapping, MAP_FIXED_NOREPLACE, and reuse of an unmapped middle part. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static void fill(char *p, int pages, char first) {
    for (int i = 0; i < pages; i++) memset(p + i * PAGE, first + i, PAGE);
}

static int check(const char *p, int pages, char first) {
    for (int i = 0; i < pages; i++)
        for (int j = 0; j < PAGE; j += 511)
            if (p[i * PAGE + j] != (char)(first + i)) return 0;
    return 1;
}

static int zero(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static int mapped(void *p) { return msync(p, PAGE, MS_ASYNC) == 0; }

static const char *ename(int e) {
    switch (e) {
    case ENOMEM: return "ENOMEM";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    default: return "other";
    }
}

static const char *err(void *r) { return r == MAP_FAILED ? ename(errno) : "ok"; }

int main(void) {
    /* An area of our own to place things at known addresses. */
    char *area = mmap(NULL, 64 * PAGE, PROT_NONE, ANON, -1, 0);
    if (area == MAP_FAILED) { perror("area"); return 1; }

    /* shrink, then grow in place */
    char *a = mmap(area, 4 * PAGE, RW, ANON | MAP_FIXED, -1, 0);
    fill(a, 4, 'a');
    if (munmap(area + 4 * PAGE, 4 * PAGE)) perror("munmap");  /* free room after it */
    char *r = mremap(a, 4 * PAGE, 2 * PAGE, 0);
    printf("shrink: same %d keeps %d tail unmapped %d\n", r == a, check(a, 2, 'a'),
           !mapped(a + 2 * PAGE));
    r = mremap(a, 2 * PAGE, 6 * PAGE, 0);
    printf("grow in place: same %d keeps %d new zero %d\n", r == a, check(a, 2, 'a'),
           r == a && zero(a + 2 * PAGE, 4 * PAGE));

    /* blocked: ENOMEM without MREMAP_MAYMOVE, moved with it */
    char *b = mmap(a + 6 * PAGE, PAGE, RW, ANON | MAP_FIXED, -1, 0);
    memset(b, 'B', PAGE);
    r = mremap(a, 6 * PAGE, 8 * PAGE, 0);
    printf("blocked grow: %s\n", err(r));
    r = mremap(a, 6 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    printf("moved: %s moved %d keeps %d new zero %d old unmapped %d neighbour %c\n", err(r),
           r != a, check(r, 2, 'a'), zero(r + 2 * PAGE, 6 * PAGE), !mapped(a), *b);
    /* MREMAP_FIXED: back into the area, shrinking on the way */
    char *to = area + 20 * PAGE;
    char *f = mremap(r, 8 * PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    printf("fixed move: at target %d keeps %d source unmapped %d\n", f == to, check(to, 1, 'a'),
           !mapped(r));
    /* moving a part out of the middle of a mapping */
    char *m = mmap(area + 24 * PAGE, 4 * PAGE, RW, ANON | MAP_FIXED, -1, 0);
    fill(m, 4, 'm');
    char *part = mremap(m + PAGE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
                        area + 40 * PAGE);
    printf("part moved %d: %d, left %d %d hole %d\n", part == area + 40 * PAGE,
           check(part, 2, 'n'), check(m, 1, 'm'), check(m + 3 * PAGE, 1, 'p'),
           !mapped(m + PAGE));

    /* shared anonymous moves with its pages (Linux does not grow the object: pages past its
     * size raise SIGBUS there, so they are not touched) */
    char *s = mmap(NULL, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(s, 's', PAGE);
    char *s2 = mremap(s, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
    printf("shared grown: %s keeps %d\n", err(s2), check(s2, 1, 's'));

    /* file mappings grow from the file */
    int fd = open("remap.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char buf[4 * PAGE];
    fill(buf, 4, 'F');
    if (write(fd, buf, sizeof buf) != sizeof buf) { perror("write"); return 1; }
    char *fs = mmap(NULL, PAGE, RW, MAP_SHARED, fd, PAGE);
    char *fs2 = mremap(fs, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
    printf("shared file grown: %s pages %d\n", err(fs2), check(fs2, 3, 'G'));
    fs2[2 * PAGE] = '!';
    char c = 0;
    if (pread(fd, &c, 1, 3 * PAGE) != 1) perror("pread");
    printf("read() sees the write in the grown part: %c\n", c);
    char *fp = mmap(NULL, PAGE, RW, MAP_PRIVATE, fd, 0);
    fp[0] = 'x';
    char *fp2 = mremap(fp, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
    printf("private file grown: %s first '%c' second %d\n", err(fp2), fp2[0],
           check(fp2 + PAGE, 1, 'G'));

    /* madvise(MADV_DONTNEED) */
    char *pa = mmap(NULL, 2 * PAGE, RW, ANON, -1, 0);
    memset(pa, 1, 2 * PAGE);
    int rc = madvise(pa, 2 * PAGE, MADV_DONTNEED);
    printf("dontneed private anon: %d zero %d\n", rc, zero(pa, 2 * PAGE));
    rc = madvise(s2, PAGE, MADV_DONTNEED);
    printf("dontneed shared anon: %d keeps %d\n", rc, check(s2, 1, 's'));
    rc = madvise(fs2, PAGE, MADV_DONTNEED);
    printf("dontneed shared file: %d keeps %d\n", rc, check(fs2, 1, 'G'));
    rc = madvise(fp2, 2 * PAGE, MADV_DONTNEED);
    printf("dontneed private file: %d back to the file '%c' %d\n", rc, fp2[0],
           check(fp2 + PAGE, 1, 'G'));
    rc = madvise(pa, PAGE, MADV_WILLNEED);
    printf("willneed: %d\n", rc);

    /* MAP_FIXED over an existing mapping, and NOREPLACE */
    char *x = mmap(area + 48 * PAGE, 4 * PAGE, RW, ANON | MAP_FIXED, -1, 0);
    fill(x, 4, 'w');
    char *y = mmap(x + PAGE, PAGE, RW, ANON | MAP_FIXED, -1, 0);
    char *z = mmap(x + 2 * PAGE, PAGE, RW, MAP_SHARED | MAP_FIXED, fd, 0);
    printf("fixed over: %d zero %d file %d neighbours %d %d\n", y == x + PAGE, zero(y, PAGE),
           check(z, 1, 'F'), check(x, 1, 'w'), check(x + 3 * PAGE, 1, 'z'));
    r = mmap(x, PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    printf("noreplace over a mapping: %s\n", err(r));

    /* unmap a middle part, then reuse it */
    if (munmap(x + PAGE, 2 * PAGE)) perror("munmap middle");
    printf("middle unmapped %d %d, sides %d %d\n", !mapped(x + PAGE), !mapped(x + 2 * PAGE),
           check(x, 1, 'w'), check(x + 3 * PAGE, 1, 'z'));
    r = mmap(x + PAGE, 2 * PAGE, RW, ANON, -1, 0);  /* a hint: the hole is free */
    printf("hint reuses the hole %d zero %d\n", r == x + PAGE, zero(r, 2 * PAGE));
    munmap(r, 2 * PAGE);
    r = mmap(x + PAGE, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    printf("noreplace into the hole: %s at %d\n", err(r), r == x + PAGE);
    return 0;
}
