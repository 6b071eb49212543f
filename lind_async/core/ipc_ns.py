"""The System V IPC namespace of one world (core/ipc.py explains identifiers, keys and
permissions): the three tables, each kind's ``get``, removal and the exit of a process."""

from __future__ import annotations

from lind_async.abi.errno import EINVAL, GuestError
from lind_async.core.ipc import SHMMAX, SHMMIN, IdTable, Perm, ShmSegment
from lind_async.core.ipc_msg import MsgQueue
from lind_async.core.ipc_sem import SEMMSL, SemSet


class IpcNamespace:
    """The System V IPC objects of one world."""

    __slots__ = ("msg", "sem", "shm")

    def __init__(self) -> None:
        self.shm: IdTable[ShmSegment] = IdTable()
        self.sem: IdTable[SemSet] = IdTable()
        self.msg: IdTable[MsgQueue] = IdTable()

    # -- shared memory --------------------------------------------------------------------------
    def shm_get(self, key: int, size: int, flags: int, *, uid: int, gid: int, pid: int,
                now: int) -> tuple[ShmSegment, bool]:
        """``shmget``: the segment and whether it is new (its backing still to be made)."""
        seg = self.shm.find_key(key, flags)
        if seg is not None:
            if size > seg.size:
                raise GuestError(EINVAL)
            seg.perm.check(uid, gid, flags & 0o777)
            return seg, False
        if size < SHMMIN or size > SHMMAX:
            raise GuestError(EINVAL)
        seg = ShmSegment(Perm(key, uid, gid, uid, gid, flags & 0o777), size=size, cpid=pid,
                         ctime=now)
        self.shm.add(seg)
        return seg, True

    def shm_detached(self, seg: ShmSegment, now: int) -> bool:
        """One attach of ``seg`` went; True when that destroyed it (removed, none left)."""
        seg.nattch -= 1
        seg.dtime = now
        if seg.nattch <= 0 and seg.removed:
            self.shm.drop(seg)
            return True
        return False

    def shm_remove(self, seg: ShmSegment) -> bool:
        """``IPC_RMID``: True when the segment is destroyed now (nothing attaches it)."""
        self.shm.unkey(seg)
        if seg.nattch <= 0:
            self.shm.drop(seg)
            return True
        return False

    # -- semaphores -----------------------------------------------------------------------------
    def sem_get(self, key: int, nsems: int, flags: int, *, uid: int, gid: int, now: int
                ) -> SemSet:
        """``semget``: the set of ``key`` (or a new one of ``nsems`` zeros)."""
        if not 0 <= nsems <= SEMMSL:
            raise GuestError(EINVAL)
        found = self.sem.find_key(key, flags)
        if found is not None:
            if nsems > found.nsems:
                raise GuestError(EINVAL)
            found.perm.check(uid, gid, flags & 0o777)
            return found
        if nsems == 0:
            raise GuestError(EINVAL)
        made = SemSet(Perm(key, uid, gid, uid, gid, flags & 0o777), ctime=now,
                      values=[0] * nsems, pids=[0] * nsems, ncnt=[0] * nsems, zcnt=[0] * nsems)
        self.sem.add(made)
        return made

    def exit_undo(self, pid: int) -> list[SemSet]:
        """Process ``pid`` ended: apply its ``SEM_UNDO`` adjustments; the sets that changed."""
        return [s for s in self.sem.objects() if s.exit_undo(pid)]

    # -- message queues -------------------------------------------------------------------------
    def msg_get(self, key: int, flags: int, *, uid: int, gid: int, now: int) -> MsgQueue:
        """``msgget``: the queue of ``key`` (or a new empty one)."""
        found = self.msg.find_key(key, flags)
        if found is not None:
            found.perm.check(uid, gid, flags & 0o777)
            return found
        made = MsgQueue(Perm(key, uid, gid, uid, gid, flags & 0o777), ctime=now)
        self.msg.add(made)
        return made
