/* System V shared memory as Linux keeps it: shmget (IPC_PRIVATE, keys, IPC_CREAT|IPC_EXCL, sizes),
 * shmat (anywhere, at an address, SHM_RND, SHM_REMAP, SHM_RDONLY), shm_nattch across attaches,
 * fork, shmdt and exit, IPC_STAT/IPC_SET, IPC_RMID (the key is free at once, the segment lives
 * until its last attach goes), shmdt errors and the range it frees. Keys derive from the pid
 * (natively they are the host's); every segment made is removed (except with "keep", for the
 * cage-only check that a world's end frees its segments). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096L
#ifdef __GLIBC__
#define KEY __key
#else
#define KEY key
#endif
#ifndef SHM_DEST
#define SHM_DEST 01000
#endif

static const char *ename(int e) {
    switch (e) {
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EIDRM: return "EIDRM";
    case ENOMEM: return "ENOMEM";
    default: return "other";
    }
}

static void rc(const char *what, long r) {
    printf("%-48s %s\n", what, r >= 0 ? "ok" : ename(errno));
}

static int at_ok(void *p) { return p == (void *)-1 ? -1 : 0; }

static struct shmid_ds stat_of(int id) {
    struct shmid_ds ds;
    memset(&ds, 0, sizeof ds);
    if (shmctl(id, IPC_STAT, &ds)) printf("IPC_STAT %d: %s\n", id, ename(errno));
    return ds;
}

static long nattch(int id) { return (long)stat_of(id).shm_nattch; }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "keep") == 0) {  /* a segment left for the world's end */
        int kept = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
        char *at = shmat(kept, NULL, 0);
        return kept < 0 || at == (void *)-1 || fork() < 0;
    }
    key_t key = 0x4d530000 + (getpid() & 0xffff), other = key + 0x10000;

    /* a private segment, its stat, attaches */
    int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    rc("shmget IPC_PRIVATE", id);
    struct shmid_ds ds = stat_of(id);
    printf("segsz %zu nattch %lu mode %o key %d cpid is me %d uid is me %d lpid %d\n",
           (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch, ds.shm_perm.mode & 0777,
           (int)ds.shm_perm.KEY, ds.shm_cpid == getpid(), ds.shm_perm.uid == getuid(),
           (int)ds.shm_lpid);
    printf("ctime set %d, atime %ld\n", ds.shm_ctime > 0, (long)ds.shm_atime);
    char *p = shmat(id, NULL, 0);
    rc("shmat", at_ok(p));
    printf("zero filled %d %d\n", p[0] == 0, p[9999] == 0);
    strcpy(p, "hello");
    ds = stat_of(id);
    printf("after shmat: nattch %lu lpid is me %d atime set %d\n", (unsigned long)ds.shm_nattch,
           ds.shm_lpid == getpid(), ds.shm_atime > 0);
    char *q = shmat(id, NULL, 0);
    rc("shmat again", at_ok(q));
    printf("second attach elsewhere %d, same pages %d\n", q != p, strcmp(q, "hello") == 0);
    q[6000] = 'x';
    printf("written through one, read through the other %d, nattch %ld\n", p[6000] == 'x',
           nattch(id));

    /* fork: each attach is inherited and counted */
    pid_t child = fork();
    if (child == 0) {
        printf("child: nattch %ld, sees %s\n", nattch(id), p);
        strcpy(p, "from the child");
        rc("child: shmdt the second", shmdt(q));
        printf("child: nattch %ld\n", nattch(id));
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    printf("parent: sees '%s', nattch %ld after the child's exit\n", p, nattch(id));

    /* keys */
    int k = shmget(key, PAGE, IPC_CREAT | IPC_EXCL | 0640);
    rc("shmget key, IPC_CREAT|IPC_EXCL", k);
    rc("again, IPC_CREAT|IPC_EXCL", shmget(key, PAGE, IPC_CREAT | IPC_EXCL | 0640));
    printf("again, IPC_CREAT: same id %d\n", shmget(key, PAGE, IPC_CREAT | 0640) == k);
    printf("size 0, no flags: same id %d\n", shmget(key, 0, 0) == k);
    rc("larger than the segment", shmget(key, 2 * PAGE, 0));
    rc("a key nobody made", shmget(other, PAGE, 0));
    rc("size 0, IPC_CREAT", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
    ds = stat_of(k);
    printf("key kept %d, mode %o, segsz %zu\n", ds.shm_perm.KEY == key, ds.shm_perm.mode & 0777,
           (size_t)ds.shm_segsz);
    ds.shm_perm.mode = 0604;
    rc("IPC_SET", shmctl(k, IPC_SET, &ds));
    printf("mode now %o\n", stat_of(k).shm_perm.mode & 0777);

    /* IPC_RMID: the key is free at once; the segment lives while attached */
    char *kp = shmat(k, NULL, 0);
    rc("shmat the keyed segment", at_ok(kp));
    strcpy(kp, "keyed");
    rc("IPC_RMID while attached", shmctl(k, IPC_RMID, NULL));
    ds = stat_of(k);
    printf("removed: key %d, SHM_DEST %d, nattch %lu, still readable '%s'\n",
           (int)ds.shm_perm.KEY, (ds.shm_perm.mode & SHM_DEST) != 0,
           (unsigned long)ds.shm_nattch, kp);
    rc("shmget of the key now", shmget(key, 0, 0));
    int k2 = shmget(key, PAGE, IPC_CREAT | IPC_EXCL | 0600);
    rc("a new segment for the key", k2);
    printf("new id %d, its pages fresh %d\n", k2 != k, ((char *)shmat(k2, NULL, 0))[0] == 0);
    char *again = shmat(k, NULL, 0);
    rc("shmat a removed, attached segment", at_ok(again));
    printf("nattch %ld\n", nattch(k));
    rc("shmdt", shmdt(again));
    rc("shmdt the last attach", shmdt(kp));
    rc("IPC_STAT of the destroyed segment", shmctl(k, IPC_STAT, &ds));
    rc("shmat of it", at_ok(shmat(k, NULL, 0)));

    /* shmat at an address, SHM_RND, SHM_REMAP */
    char *r = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(r + PAGE, 2 * PAGE);
    int two = shmget(IPC_PRIVATE, 2 * PAGE, IPC_CREAT | 0600);
    printf("shmat at a free address: %d\n", shmat(two, r + PAGE, 0) == r + PAGE);
    rc("shmat at an unaligned address", at_ok(shmat(two, r + PAGE + 5, 0)));
    rc("SHM_RND over the attach", at_ok(shmat(two, r + PAGE + 5, SHM_RND)));
    printf("SHM_RND|SHM_REMAP over the attach: %d, nattch %ld\n",
           shmat(two, r + PAGE + 5, SHM_RND | SHM_REMAP) == r + PAGE, nattch(two));
    rc("shmat over a mapping", at_ok(shmat(two, r, 0)));
    rc("SHM_REMAP without an address", at_ok(shmat(two, NULL, SHM_REMAP)));

    /* shmdt errors and what it frees */
    rc("shmdt unaligned", shmdt(r + PAGE + 1));
    rc("shmdt inside the attach", shmdt(r + 2 * PAGE));
    rc("shmdt of a plain mapping", shmdt(r));
    rc("shmdt", shmdt(r + PAGE));
    rc("shmdt again", shmdt(r + PAGE));
    printf("nattch %ld\n", nattch(two));
    rc("munmap around where it was", munmap(r, 4 * PAGE));
    char *back = mmap(r, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                      -1, 0);
    printf("the whole range is free again: %d\n", back == r);
    munmap(back, 4 * PAGE);

    /* a partly unmapped attach is still one attach, and shmdt finds it */
    char *s = shmat(two, NULL, 0);
    rc("munmap the first page of an attach", munmap(s, PAGE));
    printf("nattch %ld\n", nattch(two));
    rc("shmdt at its start", shmdt(s));
    printf("nattch %ld\n", nattch(two));

    /* SHM_RDONLY */
    char *ro = shmat(id, NULL, SHM_RDONLY);
    printf("SHM_RDONLY reads '%s'\n", ro);
    rc("mprotect it writable", mprotect(ro, PAGE, PROT_READ | PROT_WRITE));
    rc("shmdt it", shmdt(ro));

    /* bad identifiers and commands */
    rc("shmat bad id", at_ok(shmat(-1, NULL, 0)));
    rc("shmctl bad id", shmctl(0x7ffffff, IPC_STAT, &ds));
    rc("shmctl bad command", shmctl(id, 999, &ds));

    rc("IPC_RMID", shmctl(id, IPC_RMID, NULL));
    rc("IPC_RMID", shmctl(k2, IPC_RMID, NULL));
    rc("IPC_RMID", shmctl(two, IPC_RMID, NULL));
    printf("nattch of the removed, still attached segment %ld\n", nattch(id));
    return 0;
}
