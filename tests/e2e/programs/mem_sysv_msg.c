/* System V message queues as Linux keeps them: msgget (keys), msgsnd/msgrcv with types (0, > 0,
 * < 0, MSG_EXCEPT), MSG_NOERROR and E2BIG, IPC_NOWAIT (ENOMSG, EAGAIN on a full queue), a
 * blocking msgrcv and msgsnd that suspend only the caller, IPC_STAT counters, IPC_SET of
 * msg_qbytes, EIDRM for a waiter when the queue is removed, and the argument errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

struct msg {
    long mtype;
    char text[64];
};

static const char *ename(int e) {
    switch (e) {
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case EAGAIN: return "EAGAIN";
    case ENOMSG: return "ENOMSG";
    case E2BIG: return "E2BIG";
    case EIDRM: return "EIDRM";
    default: return "other";
    }
}

static void rc(const char *what, long r) {
    printf("%-40s %s\n", what, r >= 0 ? "ok" : ename(errno));
}

static int send(int q, long type, const char *text, int flags) {
    struct msg m = {type, ""};
    strcpy(m.text, text);
    return msgsnd(q, &m, strlen(text) + 1, flags);
}

static void recv(int q, long type, int flags, size_t room) {
    struct msg m = {0, ""};
    errno = 0;
    ssize_t n = msgrcv(q, &m, room, type, flags);
    if (n < 0)
        printf("msgrcv type %ld: %s\n", type, ename(errno));
    else
        printf("msgrcv type %ld: %zd bytes, mtype %ld '%.*s'\n", type, n, m.mtype, (int)n, m.text);
}

static long qnum(int q) {
    struct msqid_ds ds;
    return msgctl(q, IPC_STAT, &ds) ? -1 : (long)ds.msg_qnum;
}

static void wait_empty_after_block(void) { usleep(50000); }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    key_t key = 0x4d510000 + (getpid() & 0xffff);
    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    rc("msgget IPC_PRIVATE", q);
    struct msqid_ds ds;
    rc("IPC_STAT", msgctl(q, IPC_STAT, &ds));
    printf("qnum %lu cbytes %lu qbytes %lu mode %o stime %ld\n", (unsigned long)ds.msg_qnum,
           (unsigned long)ds.msg_cbytes, (unsigned long)ds.msg_qbytes, ds.msg_perm.mode & 0777,
           (long)ds.msg_stime);

    /* types */
    send(q, 3, "three", 0);
    send(q, 1, "one", 0);
    send(q, 2, "two", 0);
    send(q, 1, "one again", 0);
    msgctl(q, IPC_STAT, &ds);
    printf("qnum %lu cbytes %lu lspid is me %d\n", (unsigned long)ds.msg_qnum,
           (unsigned long)ds.msg_cbytes, ds.msg_lspid == getpid());
    recv(q, 2, 0, 64);
    recv(q, -2, 0, 64);
    recv(q, 1, MSG_EXCEPT, 64);
    recv(q, 0, 0, 64);
    recv(q, 0, IPC_NOWAIT, 64);
    recv(q, 7, IPC_NOWAIT, 64);
    send(q, 5, "a longer message", 0);
    recv(q, 0, IPC_NOWAIT, 4);
    printf("still queued: %ld\n", qnum(q));
    recv(q, 0, MSG_NOERROR, 4);
    printf("queued now: %ld\n", qnum(q));

    /* errors */
    struct msg m = {0, "x"};
    rc("mtype 0", msgsnd(q, &m, 2, 0));
    m.mtype = 1;
    rc("size 8193", msgsnd(q, &m, 8193, 0));
    rc("bad id", msgsnd(0x7ffffff, &m, 2, 0));
    rc("negative id", msgsnd(-1, &m, 2, 0));
    rc("msgctl bad command", msgctl(q, 999, &ds));

    /* a blocking msgrcv: the child waits, the parent sends */
    pid_t child = fork();
    if (child == 0) {
        recv(q, 9, 0, 64);
        _exit(0);
    }
    wait_empty_after_block();
    send(q, 8, "not for the child", 0);
    send(q, 9, "for the child", 0);
    int status;
    waitpid(child, &status, 0);
    printf("left for the parent: %ld\n", qnum(q));
    recv(q, 0, 0, 64);

    /* a full queue: IPC_NOWAIT is EAGAIN, a blocking sender waits for room */
    msgctl(q, IPC_STAT, &ds);
    ds.msg_qbytes = 40;
    rc("IPC_SET msg_qbytes 40", msgctl(q, IPC_SET, &ds));
    rc("send 30 bytes", send(q, 1, "0123456789012345678901234567x", 0));
    rc("send 20 more, IPC_NOWAIT", send(q, 1, "0123456789012345678", IPC_NOWAIT));
    child = fork();
    if (child == 0) {
        _exit(send(q, 2, "0123456789012345678", 0) == 0 ? 0 : 1);
    }
    wait_empty_after_block();
    printf("while the child waits: %ld queued\n", qnum(q));
    recv(q, 1, 0, 64);
    waitpid(child, &status, 0);
    printf("the blocked sender's exit: %d\n", WEXITSTATUS(status));
    recv(q, 0, 0, 64);

    /* keys, IPC_RMID with a waiter */
    int k = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    rc("msgget key, IPC_CREAT|IPC_EXCL", k);
    rc("again", msgget(key, IPC_CREAT | IPC_EXCL | 0600));
    printf("no flags finds it: %d\n", msgget(key, 0) == k);
    child = fork();
    if (child == 0) {
        recv(k, 0, 0, 64);
        _exit(0);
    }
    wait_empty_after_block();
    int removed = msgctl(k, IPC_RMID, NULL);
    waitpid(child, &status, 0);
    rc("IPC_RMID with a waiter", removed);
    rc("the key is free", msgget(key, 0));
    rc("IPC_STAT of the removed queue", msgctl(k, IPC_STAT, &ds));
    rc("IPC_RMID", msgctl(q, IPC_RMID, NULL));
    return 0;
}
