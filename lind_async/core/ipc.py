"""System V IPC namespace of one world: identifiers, keys and permissions of shared memory
segments, semaphore sets and message queues.

Theory of operation
-------------------
A world (the cages of one microvisor, docs/security.md) has one :class:`IpcNamespace`, as a Linux
IPC namespace: three :class:`IdTable`\\s, one per kind, each mapping *identifiers* to objects and
*keys* to identifiers. An identifier is ``seq * IPCMNI + index`` as Linux makes it: ``index`` is
the lowest free slot, ``seq`` a per-table counter bumped at every creation, so a stale identifier
of a removed object never names its successor in the same slot (``EINVAL``/``EIDRM``).

``get`` is the common part of ``shmget``/``semget``/``msgget``: ``IPC_PRIVATE`` always creates;
an existing key fails with ``EEXIST`` under ``IPC_CREAT|IPC_EXCL``, then the kind's own check
(a larger size or more semaphores than the object has: ``EINVAL``), then the permission check
(the low nine bits of the flags are the access asked for); a missing key needs ``IPC_CREAT``
(``ENOENT``). Removing an object frees its key at once (its ``key`` becomes ``IPC_PRIVATE``,
so a later ``get`` of the key makes a new object), and its identifier once the object is gone
(a shared memory segment lives on, still attachable by identifier, until its last attach goes).

Permissions (:meth:`Perm.allows`) follow ``ipcperms``: the owner's bits when the caller's uid is
the owner or the creator, else the group's when its gid matches, else the others'; uid 0 passes
every check (``CAP_IPC_OWNER``), and changing or removing an object (``IPC_SET``/``IPC_RMID``)
needs the owner, the creator or uid 0 (``EPERM``).

The objects of each kind: :class:`ShmSegment` here (its pages are the glue's host object,
rawposix/sysv_shm.py), core/ipc_sem.py and core/ipc_msg.py; core/ipc_ns.py holds the three
tables of a world and the ``get`` of each kind. Pure state: no I/O, no clock (times
are passed in), no waiting (the glue parks callers and retries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from lind_async.abi.errno import EACCES, EEXIST, EINVAL, ENOENT, ENOSPC, EPERM, GuestError

IPC_PRIVATE = 0
IPC_CREAT = 0o1000
IPC_EXCL = 0o2000
IPC_NOWAIT = 0o4000
IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
IPC_64 = 0x100  # musl adds it to every *ctl command (the 64-bit structure layouts)

IPCMNI = 32768  # identifiers per kind (index part of an identifier)
S_IRUGO = 0o444
S_IWUGO = 0o222

SHMMIN, SHMMAX = 1, (1 << 32) - (1 << 24)  # Linux's default SHMMAX for a 32-bit size_t
SHMLBA = 4096
SHM_DEST, SHM_LOCKED = 0o1000, 0o2000  # mode bits IPC_STAT reports


@dataclass(slots=True)
class Perm:
    """``struct ipc_perm``."""

    key: int
    uid: int
    gid: int
    cuid: int
    cgid: int
    mode: int  # the low 9 bits (SHM_DEST/SHM_LOCKED are added by ShmSegment.stat_mode)
    seq: int = 0

    def allows(self, uid: int, gid: int, wanted: int) -> bool:
        """Whether ``wanted`` (any of ``0o444`` read, ``0o222`` write) is granted."""
        if uid == 0:
            return True
        granted = self.mode
        if uid in (self.uid, self.cuid):
            granted >>= 6
        elif gid in (self.gid, self.cgid):
            granted >>= 3
        need = (wanted | wanted >> 3 | wanted >> 6) & 0o7
        return granted & need == need

    def check(self, uid: int, gid: int, wanted: int) -> None:
        if not self.allows(uid, gid, wanted):
            raise GuestError(EACCES)

    def check_owner(self, uid: int) -> None:
        """``IPC_SET``/``IPC_RMID``: the owner, the creator or uid 0 (``EPERM``)."""
        if uid not in (0, self.uid, self.cuid):
            raise GuestError(EPERM)

    def set(self, uid: int, gid: int, mode: int) -> None:
        """``IPC_SET``'s part of every kind."""
        self.uid, self.gid, self.mode = uid, gid, mode & 0o777


@dataclass(slots=True, eq=False, weakref_slot=True)
class IpcObject:
    """What every kind has: its permissions, identifier, change time, and whether it is
    removed. Compared by identity (the glue keys its waiters by object)."""

    perm: Perm
    ident: int = 0
    ctime: int = 0
    removed: bool = False


T = TypeVar("T", bound=IpcObject)


class IdTable(Generic[T]):
    """Identifiers and keys of one kind of object."""

    __slots__ = ("_by_index", "_keys", "_limit", "_seq")

    def __init__(self, limit: int = IPCMNI) -> None:
        self._by_index: dict[int, T] = {}
        self._keys: dict[int, int] = {}  # key -> index
        self._seq = 0
        self._limit = limit

    def find_key(self, key: int, flags: int) -> T | None:
        """The object of ``key`` when the caller may reach it by ``get``, or None when a new one
        must be made (``ENOENT`` without ``IPC_CREAT``, ``EEXIST`` with ``IPC_EXCL``)."""
        if key == IPC_PRIVATE:
            return None
        index = self._keys.get(key)
        if index is None:
            if not flags & IPC_CREAT:
                raise GuestError(ENOENT)
            return None
        if flags & IPC_CREAT and flags & IPC_EXCL:
            raise GuestError(EEXIST)
        return self._by_index[index]

    def add(self, obj: T) -> int:
        """Give ``obj`` the lowest free slot and a new identifier (``ENOSPC`` when full)."""
        index = next((i for i in range(self._limit) if i not in self._by_index), None)
        if index is None:
            raise GuestError(ENOSPC)
        self._seq = (self._seq + 1) % (1 << 16)
        obj.perm.seq = self._seq
        obj.ident = self._seq * IPCMNI + index
        self._by_index[index] = obj
        if obj.perm.key != IPC_PRIVATE:
            self._keys[obj.perm.key] = index
        return obj.ident

    def lookup(self, ident: int) -> T:
        """The object ``ident`` names (``EINVAL`` for anything else, a stale one included)."""
        obj = self._by_index.get(ident % IPCMNI) if ident >= 0 else None
        if obj is None or obj.ident != ident:
            raise GuestError(EINVAL)
        return obj

    def unkey(self, obj: T) -> None:
        """``IPC_RMID``: the key no longer finds ``obj``, which reports ``IPC_PRIVATE``."""
        if obj.perm.key != IPC_PRIVATE and self._keys.get(obj.perm.key) == obj.ident % IPCMNI:
            del self._keys[obj.perm.key]
        obj.perm.key = IPC_PRIVATE
        obj.removed = True

    def drop(self, obj: T) -> None:
        """``obj`` is gone: its identifier no longer names anything."""
        self.unkey(obj)
        if self._by_index.get(obj.ident % IPCMNI) is obj:
            del self._by_index[obj.ident % IPCMNI]

    def objects(self) -> list[T]:
        return list(self._by_index.values())

    def __len__(self) -> int:
        return len(self._by_index)


# ------------------------------------------------------------------------------ shared memory
@dataclass(slots=True, eq=False)
class ShmSegment(IpcObject):
    """A System V shared memory segment; ``backing`` is the glue's host object (its pages)."""

    size: int = 0
    cpid: int = 0
    lpid: int = 0
    atime: int = 0
    dtime: int = 0
    nattch: int = 0
    locked: bool = False
    backing: object | None = field(default=None, repr=False)

    def stat_mode(self) -> int:
        return (self.perm.mode | (SHM_DEST if self.removed else 0)
                | (SHM_LOCKED if self.locked else 0))

    def access(self, readonly: bool) -> int:
        """The permission ``shmat`` needs."""
        return S_IRUGO if readonly else S_IRUGO | S_IWUGO
