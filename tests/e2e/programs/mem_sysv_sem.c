/* System V semaphores as Linux keeps them: semget (keys, sizes), semctl (GETVAL/SETVAL/GETALL/
 * SETALL/GETPID/GETNCNT/GETZCNT/IPC_STAT/IPC_SET/IPC_RMID), semop all-or-nothing with IPC_NOWAIT,
 * wait-for-zero, a blocking semop that suspends only the caller (the parent keeps running and
 * sees the waiter counted), SEM_UNDO undone at exit, semtimedop's timeout, EIDRM for a waiter
 * when the set is removed, and the argument errors. Every set made is removed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__
#define KEY __key
#else
#define KEY key
#endif

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static const char *ename(int e) {
    switch (e) {
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case EAGAIN: return "EAGAIN";
    case EFBIG: return "EFBIG";
    case E2BIG: return "E2BIG";
    case ERANGE: return "ERANGE";
    case EIDRM: return "EIDRM";
    case EINTR: return "EINTR";
    default: return "other";
    }
}

static void rc(const char *what, long r) {
    printf("%-44s %s\n", what, r >= 0 ? "ok" : ename(errno));
}

static int op(int id, unsigned short num, short delta, short flags) {
    struct sembuf b = {num, delta, flags};
    return semop(id, &b, 1);
}

static int val(int id, int num) { return semctl(id, num, GETVAL); }

static void wait_until(int id, int num, int cmd, int want) {
    for (int i = 0; i < 2000 && semctl(id, num, cmd) != want; i++) usleep(1000);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    key_t key = 0x4d450000 + (getpid() & 0xffff);

    int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    rc("semget IPC_PRIVATE, 3", id);
    printf("values %d %d %d\n", val(id, 0), val(id, 1), val(id, 2));
    struct semid_ds ds;
    rc("IPC_STAT", semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}));
    printf("nsems %lu mode %o key %d otime %ld ctime set %d\n", (unsigned long)ds.sem_nsems,
           ds.sem_perm.mode & 0777, (int)ds.sem_perm.KEY, (long)ds.sem_otime, ds.sem_ctime > 0);
    ds.sem_perm.mode = 0640;
    rc("IPC_SET", semctl(id, 0, IPC_SET, (union semun){.buf = &ds}));
    semctl(id, 0, IPC_STAT, (union semun){.buf = &ds});
    printf("mode now %o\n", ds.sem_perm.mode & 0777);

    /* SETVAL/GETALL/SETALL, GETPID */
    rc("SETVAL 5", semctl(id, 1, SETVAL, (union semun){.val = 5}));
    rc("SETVAL 32768", semctl(id, 1, SETVAL, (union semun){.val = 32768}));
    rc("SETVAL -1", semctl(id, 1, SETVAL, (union semun){.val = -1}));
    rc("GETVAL of semaphore 3", semctl(id, 3, GETVAL));
    unsigned short all[3] = {0};
    semctl(id, 0, GETALL, (union semun){.array = all});
    printf("GETALL %d %d %d, GETPID is me %d\n", all[0], all[1], all[2],
           semctl(id, 1, GETPID) == getpid());
    unsigned short set[3] = {1, 2, 3};
    rc("SETALL 1 2 3", semctl(id, 0, SETALL, (union semun){.array = set}));
    printf("values %d %d %d\n", val(id, 0), val(id, 1), val(id, 2));

    /* semop: all or nothing, IPC_NOWAIT */
    struct sembuf two[2] = {{0, -1, 0}, {2, -4, IPC_NOWAIT}};
    rc("semop that cannot finish, IPC_NOWAIT", semop(id, two, 2));
    printf("nothing changed %d %d %d\n", val(id, 0), val(id, 1), val(id, 2));
    two[1].sem_op = -3;
    rc("semop that can", semop(id, two, 2));
    printf("values %d %d %d\n", val(id, 0), val(id, 1), val(id, 2));
    struct sembuf same[2] = {{1, 3, 0}, {1, -5, 0}};
    rc("two ops on one semaphore, in order", semop(id, same, 2));
    printf("value %d\n", val(id, 1));
    rc("wait for zero on zero", op(id, 0, 0, 0));
    rc("wait for zero on 1, IPC_NOWAIT", (semctl(id, 2, SETVAL, (union semun){.val = 1}),
                                          op(id, 2, 0, IPC_NOWAIT)));
    rc("past SEMVMX", (semctl(id, 2, SETVAL, (union semun){.val = 32767}), op(id, 2, 1, 0)));
    semctl(id, 2, SETVAL, (union semun){.val = 0});

    /* argument errors */
    rc("sem_num out of range", op(id, 3, 1, 0));
    rc("nsops 0", semop(id, two, 0));
    static struct sembuf many[501];
    rc("nsops 501", semop(id, many, 501));
    rc("bad id", op(0x7ffffff, 0, 1, 0));
    rc("negative id", op(-1, 0, 1, 0));
    rc("semctl bad command", semctl(id, 0, 999));

    /* a blocking semop suspends only the child; the parent sees it counted, then frees it */
    pid_t child = fork();
    if (child == 0) {
        int r = op(id, 0, -1, 0);
        printf("child: semop returned %d, value %d\n", r, val(id, 0));
        _exit(r);
    }
    wait_until(id, 0, GETNCNT, 1);
    printf("parent: GETNCNT %d GETZCNT %d while the child waits\n", semctl(id, 0, GETNCNT),
           semctl(id, 0, GETZCNT));
    int v = op(id, 0, 1, 0);
    int status;
    waitpid(child, &status, 0);
    rc("parent: V", v);
    printf("child exit %d, GETNCNT %d\n", WEXITSTATUS(status), semctl(id, 0, GETNCNT));

    /* wait for zero, counted in GETZCNT */
    semctl(id, 1, SETVAL, (union semun){.val = 2});
    child = fork();
    if (child == 0) _exit(op(id, 1, 0, 0) == 0 ? 0 : 1);
    wait_until(id, 1, GETZCNT, 1);
    printf("GETZCNT %d\n", semctl(id, 1, GETZCNT));
    op(id, 1, -2, 0);
    waitpid(child, &status, 0);
    printf("zero waiter exit %d\n", WEXITSTATUS(status));

    /* SEM_UNDO: a child's operations are undone when it exits */
    semctl(id, 2, SETVAL, (union semun){.val = 10});
    child = fork();
    if (child == 0) {
        op(id, 2, -3, SEM_UNDO);
        op(id, 2, 1, SEM_UNDO);
        op(id, 2, 5, 0);
        printf("child: value %d before exit\n", val(id, 2));
        _exit(0);
    }
    waitpid(child, &status, 0);
    printf("after the child's exit: %d (its undo applied, the plain op kept)\n", val(id, 2));
    child = fork();
    if (child == 0) {
        op(id, 2, -2, SEM_UNDO);
        semctl(id, 2, SETVAL, (union semun){.val = 4});  /* SETVAL clears the adjustment */
        _exit(0);
    }
    waitpid(child, &status, 0);
    printf("SETVAL cleared the undo: %d\n", val(id, 2));

    /* semtimedop */
    struct timespec ts = {0, 20 * 1000 * 1000};
    struct sembuf down = {0, -1, 0};
    rc("semtimedop times out", semtimedop(id, &down, 1, &ts));
    ts.tv_nsec = 2000000000L;
    rc("semtimedop bad timeout", semtimedop(id, &down, 1, &ts));

    /* keys and IPC_RMID */
    int k = semget(key, 2, IPC_CREAT | IPC_EXCL | 0600);
    rc("semget key, IPC_CREAT|IPC_EXCL", k);
    rc("again", semget(key, 2, IPC_CREAT | IPC_EXCL | 0600));
    printf("nsems 0 finds it %d, fewer finds it %d\n", semget(key, 0, 0) == k,
           semget(key, 1, 0) == k);
    rc("more than it has", semget(key, 3, 0));
    rc("nsems 0, IPC_CREAT, new", semget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
    rc("nsems -1", semget(IPC_PRIVATE, -1, IPC_CREAT | 0600));
    child = fork();
    if (child == 0) {
        int r = op(k, 0, -1, 0);
        printf("child: waiter got %s\n", r == 0 ? "ok" : ename(errno));
        _exit(0);
    }
    wait_until(k, 0, GETNCNT, 1);
    int removed = semctl(k, 0, IPC_RMID);
    waitpid(child, &status, 0);
    rc("IPC_RMID with a waiter", removed);
    rc("GETVAL after IPC_RMID", semctl(k, 0, GETVAL));
    rc("the key is free", semget(key, 2, 0));
    rc("IPC_RMID", semctl(id, 0, IPC_RMID));
    return 0;
}
