/* The errors of mmap, munmap, mremap, msync, mprotect, madvise and mincore, as Linux reports
 * them: EINVAL, EBADF, EACCES, ENODEV, EEXIST, ENOMEM, EFAULT, EOPNOTSUPP. */
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
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
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
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "other";
    }
}

static void map(const char *what, void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    errno = 0;
    void *p = mmap(addr, len, prot, flags, fd, off);
    printf("mmap %-32s %s\n", what, p == MAP_FAILED ? ename(errno) : "ok");
    if (p != MAP_FAILED && p != addr) munmap(p, len);
}

static void rc(const char *what, int r) {
    printf("%-37s %s\n", what, r == 0 ? "ok" : ename(errno));
}

int main(void) {
    int rw = open("file.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char buf[2 * PAGE] = {0};
    if (rw < 0 || write(rw, buf, sizeof buf) != sizeof buf) { perror("file"); return 1; }
    int ro = open("file.dat", O_RDONLY);
    int wo = open("file.dat", O_WRONLY);
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    int null = open("/dev/null", O_RDWR);
    int pfd[2];
    if (ro < 0 || wo < 0 || dir < 0 || null < 0 || pipe(pfd)) { perror("open"); return 1; }

    map("length 0", NULL, 0, RW, ANON, -1, 0);
    map("length 0 file", NULL, 0, PROT_READ, MAP_PRIVATE, ro, 0);
    map("huge length", NULL, (size_t)-PAGE, RW, ANON, -1, 0);
    map("unaligned offset", NULL, PAGE, PROT_READ, MAP_PRIVATE, ro, 100);
    map("bad fd", NULL, PAGE, PROT_READ, MAP_PRIVATE, 99, 0);
    map("closed fd", NULL, PAGE, PROT_READ, MAP_PRIVATE, 98, 0);
    map("no type", NULL, PAGE, RW, MAP_ANONYMOUS, -1, 0);
    map("validate anonymous", NULL, PAGE, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0);
    map("validate file", NULL, PAGE, RW, MAP_SHARED_VALIDATE, rw, 0);
    map("validate MAP_SYNC", NULL, PAGE, RW, MAP_SHARED_VALIDATE | MAP_SYNC, rw, 0);
    map("shared write on O_RDONLY", NULL, PAGE, RW, MAP_SHARED, ro, 0);
    map("shared read on O_RDONLY", NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0);
    map("private write on O_RDONLY", NULL, PAGE, RW, MAP_PRIVATE, ro, 0);
    map("private on O_WRONLY", NULL, PAGE, PROT_READ, MAP_PRIVATE, wo, 0);
    map("shared on O_WRONLY", NULL, PAGE, PROT_WRITE, MAP_SHARED, wo, 0);
    map("directory", NULL, PAGE, PROT_READ, MAP_PRIVATE, dir, 0);
    map("pipe read end", NULL, PAGE, PROT_READ, MAP_PRIVATE, pfd[0], 0);
    map("pipe write end", NULL, PAGE, PROT_READ, MAP_PRIVATE, pfd[1], 0);
    map("/dev/null", NULL, PAGE, PROT_READ, MAP_PRIVATE, null, 0);

    char *sro = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0);
    char *pro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, ro, 0);
    if (sro == MAP_FAILED || pro == MAP_FAILED) return 1;
    char *a = mmap(NULL, 4 * PAGE, RW, ANON, -1, 0);
    if (a == MAP_FAILED) return 1;
    map("fixed unaligned", a + 1, PAGE, RW, ANON | MAP_FIXED, -1, 0);
    map("noreplace unaligned", a + 1, PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    map("noreplace over a mapping", a + PAGE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    char *hole = a + 3 * PAGE;
    if (munmap(hole, PAGE)) return 1;

    rc("munmap unaligned", munmap(a + 1, PAGE));
    rc("munmap length 0", munmap(a, 0));
    rc("munmap unmapped", munmap(hole, PAGE));

    errno = 0;
    printf("%-37s %s\n", "mremap fixed without maymove",
           mremap(a, PAGE, PAGE, MREMAP_FIXED, hole) == MAP_FAILED ? ename(errno) : "ok");
    printf("%-37s %s\n", "mremap unaligned",
           mremap(a + 1, PAGE, 2 * PAGE, MREMAP_MAYMOVE) == MAP_FAILED ? ename(errno) : "ok");
    printf("%-37s %s\n", "mremap new size 0",
           mremap(a, PAGE, 0, MREMAP_MAYMOVE) == MAP_FAILED ? ename(errno) : "ok");
    printf("%-37s %s\n", "mremap unmapped",
           mremap(hole, PAGE, 2 * PAGE, MREMAP_MAYMOVE) == MAP_FAILED ? ename(errno) : "ok");
    printf("%-37s %s\n", "mremap bad flags",
           mremap(a, PAGE, PAGE, 0x100) == MAP_FAILED ? ename(errno) : "ok");
    printf("%-37s %s\n", "mremap overlapping fixed",
           mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, a + PAGE) == MAP_FAILED
               ? ename(errno) : "ok");

    rc("msync unaligned", msync(a + 1, PAGE, MS_SYNC));
    rc("msync async|sync", msync(a, PAGE, MS_ASYNC | MS_SYNC));
    rc("msync bad flag", msync(a, PAGE, 8));
    rc("msync unmapped", msync(hole, PAGE, MS_SYNC));
    rc("msync part unmapped", msync(a, 4 * PAGE, MS_ASYNC));
    rc("msync anonymous", msync(a, 3 * PAGE, MS_SYNC | MS_INVALIDATE));

    rc("mprotect write, shared O_RDONLY", mprotect(sro, PAGE, RW));
    rc("mprotect read, shared O_RDONLY", mprotect(sro, PAGE, PROT_READ));
    rc("mprotect write, private O_RDONLY", mprotect(pro, PAGE, RW));
    /* (musl's mprotect rounds an unaligned address down itself) */
    rc("mprotect unmapped", mprotect(hole, PAGE, RW));
    rc("mprotect bad prot", mprotect(a, PAGE, 0x100));

    rc("madvise bad advice", madvise(a, PAGE, 999));
    rc("madvise unaligned", madvise(a + 1, PAGE, MADV_DONTNEED));
    rc("madvise unmapped", madvise(hole, PAGE, MADV_DONTNEED));
    rc("madvise part unmapped", madvise(a, 4 * PAGE, MADV_DONTNEED));
    rc("madvise remove private", madvise(a, PAGE, MADV_REMOVE));

    unsigned char vec[4];
    rc("mincore", mincore(a, 3 * PAGE, vec));
    rc("mincore unaligned", mincore(a + 1, PAGE, vec));
    rc("mincore unmapped", mincore(hole, PAGE, vec));
    return 0;
}
