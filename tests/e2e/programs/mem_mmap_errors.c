/* mmap/munmap/mprotect/madvise argument checks beyond mmap_errors.c, each answered with Linux's
 * errno: mapping types that do not exist, flags Linux ignores, both MAP_FIXED flavours at once,
 * lengths that wrap, offsets for anonymous memory, unaligned addresses given to the raw calls
 * (libc's mprotect rounds them itself), PROT_SEM/PROT_GROWSDOWN/PROT_GROWSUP, and ranges that
 * pass the top of memory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096L
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#ifndef MAP_32BIT
#define MAP_32BIT 0x40
#endif
#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif

static const char *ename(int e) {
    switch (e) {
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case EEXIST: return "EEXIST";
    case ENOMEM: return "ENOMEM";
    case EFAULT: return "EFAULT";
    case EPERM: return "EPERM";
    case EOVERFLOW: return "EOVERFLOW";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "other";
    }
}

/* mmap, then report; a mapping it made is unmapped again (unless it is at a fixed place the
 * caller owns) and checked for zero contents. */
static void *map(const char *what, void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    errno = 0;
    char *p = mmap(addr, len, prot, flags, fd, off);
    if (p == MAP_FAILED) {
        printf("mmap %-40s %s\n", what, ename(errno));
        return NULL;
    }
    int zero = flags & MAP_ANONYMOUS ? p[0] == 0 && p[len - 1] == 0 : 1;
    printf("mmap %-40s ok%s%s\n", what, addr && p == addr ? " (at addr)" : "", zero ? "" : " dirty");
    return p;
}

static void rc(const char *what, long r) {
    printf("%-45s %s\n", what, r == 0 ? "ok" : ename(errno));
}

int main(void) {
    int fd = open("file.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char buf[2 * PAGE] = {1};
    if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf) { perror("file"); return 1; }

    /* mapping types: only SHARED, PRIVATE (and SHARED_VALIDATE for files) exist */
    map("type 0 (neither shared nor private)", NULL, PAGE, RW, MAP_ANONYMOUS, -1, 0);
    map("type 4", NULL, PAGE, RW, 0x04 | MAP_ANONYMOUS, -1, 0);
    map("type 15", NULL, PAGE, RW, 0x0f | MAP_ANONYMOUS, -1, 0);
    map("type 0 on a file", NULL, PAGE, PROT_READ, 0, fd, 0);
    char *p;
    /* flags Linux ignores on a legacy (non-validated) mapping */
    if ((p = map("private + MAP_SYNC (ignored)", NULL, PAGE, RW, ANON | 0x80000, -1, 0)))
        munmap(p, PAGE);
    if ((p = map("private + MAP_32BIT (ignored)", NULL, PAGE, RW, ANON | MAP_32BIT, -1, 0)))
        munmap(p, PAGE);
    if ((p = map("anonymous ignores its fd", NULL, PAGE, RW, ANON, fd, 0)))
        munmap(p, PAGE);
    if ((p = map("anonymous, aligned offset", NULL, PAGE, RW, ANON, -1, 4 * PAGE)))
        munmap(p, PAGE);
    if ((p = map("shared anonymous, aligned offset", NULL, PAGE, RW,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 4 * PAGE)))
        munmap(p, PAGE);
    map("anonymous, unaligned offset", NULL, PAGE, RW, ANON, -1, 100);
    map("file, offset past the end", NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 64 * PAGE);
    map("file, negative offset", NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, -PAGE);
    map("file, offset near the top", NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, INT64_MAX - PAGE + 1);
    if ((p = map("anonymous, negative offset", NULL, PAGE, RW, ANON, -1, -PAGE)))
        munmap(p, PAGE);
    if ((p = map("shared anonymous, negative offset", NULL, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS,
                 -1, -PAGE)))
        munmap(p, PAGE);
    map("length SIZE_MAX", NULL, SIZE_MAX, RW, ANON, -1, 0);
    map("length SIZE_MAX - page + 2", NULL, SIZE_MAX - PAGE + 2, RW, ANON, -1, 0);
    map("length SIZE_MAX/2 + 1", NULL, SIZE_MAX / 2 + 1, RW, ANON, -1, 0);

    char *a = map("four pages", NULL, 4 * PAGE, RW, ANON, -1, 0);
    if (!a) return 1;
    memset(a, 7, 4 * PAGE);
    map("FIXED|FIXED_NOREPLACE over a mapping", a, PAGE, RW,
        ANON | MAP_FIXED | MAP_FIXED_NOREPLACE, -1, 0);
    map("FIXED over a mapping", a + PAGE, PAGE, RW, ANON | MAP_FIXED, -1, 0);
    printf("its old contents are gone: %d, neighbours kept: %d %d\n", a[PAGE] == 0,
           a[PAGE - 1] == 7, a[2 * PAGE] == 7);
    map("FIXED, length that wraps", a, SIZE_MAX - PAGE + 1, RW, ANON | MAP_FIXED, -1, 0);
    map("FIXED, unaligned, length 0", a + 1, 0, RW, ANON | MAP_FIXED, -1, 0);
    map("FIXED, aligned, length 0", a, 0, RW, ANON | MAP_FIXED, -1, 0);
    map("FIXED, unaligned offset", a, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 1);
    printf("the mapping survived the refusals: %d\n", a[0] == 7 && a[3 * PAGE] == 7);
    if ((p = map("an unaligned hint is only a hint", a + 100 * PAGE + 5, PAGE, RW, ANON, -1, 0)))
        munmap(p, PAGE);

    /* munmap */
    rc("munmap length that wraps", munmap(a, SIZE_MAX - PAGE + 1));
    rc("munmap unaligned length (rounded up)", munmap(a + 3 * PAGE, 1));
    rc("munmap it again", munmap(a + 3 * PAGE, PAGE));

    /* mprotect through the raw call (musl's wrapper rounds the address down itself) */
    rc("mprotect unaligned", syscall(SYS_mprotect, a + 1, PAGE, PROT_READ));
    rc("mprotect length 0, unaligned", syscall(SYS_mprotect, a + 1, 0, PROT_READ));
    rc("mprotect length 0, unmapped", syscall(SYS_mprotect, a + 3 * PAGE, 0, PROT_READ));
    rc("mprotect unaligned length (rounded up)", syscall(SYS_mprotect, a, PAGE + 1, PROT_READ));
    rc("mprotect PROT_SEM", syscall(SYS_mprotect, a, PAGE, RW | PROT_SEM));
    rc("mprotect PROT_GROWSDOWN", syscall(SYS_mprotect, a, PAGE, RW | PROT_GROWSDOWN));
    rc("mprotect PROT_GROWSUP", syscall(SYS_mprotect, a, PAGE, RW | PROT_GROWSUP));
    rc("mprotect both GROWS", syscall(SYS_mprotect, a, PAGE, RW | PROT_GROWSUP | PROT_GROWSDOWN));
    rc("mprotect length that wraps", syscall(SYS_mprotect, a, SIZE_MAX - PAGE + 1, PROT_READ));
    rc("mprotect into the unmapped page", syscall(SYS_mprotect, a + 2 * PAGE, 2 * PAGE, RW));
    rc("mprotect PROT_NONE", syscall(SYS_mprotect, a, 3 * PAGE, PROT_NONE));
    rc("mprotect back", syscall(SYS_mprotect, a, 3 * PAGE, RW));

    /* madvise */
    rc("madvise length 0, unaligned", madvise(a + 1, 0, MADV_DONTNEED));
    rc("madvise length 0", madvise(a, 0, MADV_DONTNEED));
    rc("madvise length that wraps", madvise(a, SIZE_MAX - PAGE + 1, MADV_DONTNEED));
    rc("madvise DONTNEED", madvise(a, PAGE, MADV_DONTNEED));
    printf("DONTNEED zeroes a private page: %d\n", a[0] == 0 && a[PAGE - 1] == 0);
    rc("madvise NORMAL on a hole", madvise(a + 3 * PAGE, PAGE, MADV_NORMAL));
    return 0;
}
