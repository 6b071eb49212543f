"""RawPOSIX System V shared memory: shmget, shmat, shmdt, shmctl.

Theory of operation
-------------------
The namespace part (keys, identifiers, permissions, ``shm_nattch``, ``IPC_RMID``) is
core/ipc.py. A segment's pages are a :class:`~lind_async.rawposix.shm.SharedAnon` memfd made by
``shmget``, so attaching is the ``MAP_SHARED`` mechanism of rawposix/shm.py: every ``shmat`` makes
an :class:`Attachment` (a host object holding a ``dup`` of the memfd) mapped over the range
and recorded in the vmmap like any shared mapping. The vmmap and rawposix/shm.py then do the
rest, as for ``mmap(MAP_SHARED)``: a fork child maps it again and becomes one more user, exit and
exec give it up, ``munmap`` of all its pages (or ``MAP_FIXED`` over them) releases it, and
shared futexes in it are keyed by the segment (every attach of one segment shares the key).

``shm_nattch`` counts attaches as Linux does: each attachment counts once per address space
using it (``Attachment.attach``/``detach``, called by that machinery), so a fork adds one and a
child's exit takes it away. When a removed segment loses its last attach, its memfd is closed;
pages still mapped somewhere live on with that mapping, as on Linux.

``shmat`` at an address needs a free range (``EINVAL`` if anything is mapped there, unless
``SHM_REMAP``); ``SHM_RND`` rounds the address down to ``SHMLBA``; ``SHM_RDONLY`` maps it
read-only (recorded, not enforced: wasm has no page protection; ``mprotect`` to write is
``EACCES``, as on Linux). ``shmdt`` needs the address an attach starts at.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, GuestError
from lind_async.abi.layouts import SHMID_DS
from lind_async.core.ipc import IPC_RMID, IPC_SET, IPC_STAT, SHMLBA, ShmSegment
from lind_async.core.ipc_ns import IpcNamespace
from lind_async.core.vmmap import Mapping, page_up
from lind_async.rawposix import hostfds, mm, shm
from lind_async.rawposix.args import i32, pointer, size
from lind_async.rawposix.sysv_ipc import command, credentials, namespace, now, perm_fields, read_set
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC = 0o10000, 0o20000, 0o40000, 0o100000
SHM_LOCK, SHM_UNLOCK = 11, 12
_MAP_SHARED = 0x01


class Attachment(shm.HostObject):
    """One ``shmat`` of a segment: a ``dup`` of its memfd, counted in its ``shm_nattch``."""

    __slots__ = ("namespace", "segment")

    def __init__(self, ns: IpcNamespace, seg: ShmSegment, *, writable: bool) -> None:
        pages = seg.backing
        assert isinstance(pages, shm.SharedAnon)
        fd = hostfds.open_fd(lambda: os.dup(pages.fd))
        super().__init__(fd, _MAP_SHARED, writable=writable, key=pages.key)
        self.namespace, self.segment = ns, seg

    def attach(self) -> None:
        super().attach()
        self.segment.nattch += 1

    def detach(self) -> None:
        super().detach()
        if self.namespace.shm_detached(self.segment, now()):
            _destroy(self.segment)

    def __repr__(self) -> str:
        return f"Attachment(shmid {self.segment.ident}, users={self.users}, fd={self.fd})"


def _destroy(seg: ShmSegment) -> None:
    pages = seg.backing
    if isinstance(pages, shm.SharedAnon) and pages.fd >= 0:
        os.close(pages.fd)
        pages.fd = -1


def sys_shmget(cage: CageView, key: int, length: int, flags: int, *_: int) -> int:
    uid, gid = credentials()
    ns = namespace(cage)
    seg, new = ns.shm_get(i32(key), size(length), i32(flags), uid=uid, gid=gid,
                          pid=cage.cage_id, now=now())
    if new:
        try:
            seg.backing = shm.SharedAnon(page_up(seg.size))
        except BaseException:
            ns.shm.drop(seg)
            raise
    return seg.ident


def sys_shmat(cage: CageView, shmid: int, addr: int, flags: int, *_: int) -> int:
    at, how = pointer(addr), i32(flags)
    if at % SHMLBA:
        if not how & SHM_RND:
            raise GuestError(EINVAL)
        at -= at % SHMLBA
        if at == 0 and how & SHM_REMAP:
            raise GuestError(EINVAL)
    elif at == 0 and how & SHM_REMAP:
        raise GuestError(EINVAL)
    ns = namespace(cage)
    seg = ns.shm.lookup(i32(shmid))
    readonly = bool(how & SHM_RDONLY)
    uid, gid = credentials()
    seg.perm.check(uid, gid, seg.access(readonly))
    vm, n = cage.vm, page_up(seg.size)
    if at:
        if not how & SHM_REMAP and vm.overlaps(at, n):
            raise GuestError(EINVAL)
        vm.check_fixed(at, n)
        mm.release(cage, vm.unmap_pieces(at, n))
        start = at
    else:
        start = vm.find_space(n)
    prot = F.PROT_READ | (0 if readonly else F.PROT_WRITE) | (F.PROT_EXEC if how & SHM_EXEC else 0)
    att = Attachment(ns, seg, writable=not readonly)
    try:
        shm.map_object(cage.mem, start, start + n, att, 0)
    except BaseException:
        os.close(att.fd)
        att.fd = -1
        raise
    vm.add(Mapping(start, start + n, prot, shared=att))
    att.attach()
    seg.atime, seg.lpid = now(), cage.cage_id
    return start


def sys_shmdt(cage: CageView, addr: int, *_: int) -> int:
    at = pointer(addr)
    if at % F.PAGE_SIZE:
        raise GuestError(EINVAL)
    vm = cage.vm
    # The attach starting at ``at``: the first piece of an attachment whose offset says so (its
    # first pages may have been unmapped since, as Linux allows).
    att = next((m.shared for m in vm.pieces(at, vm.limit)
                if isinstance(m.shared, Attachment) and m.start - at == m.offset), None)
    if att is None:
        raise GuestError(EINVAL)
    att.segment.lpid = cage.cage_id
    end = at + page_up(att.segment.size)
    released: list[Mapping] = []
    for m in vm.pieces(at, end):
        if m.shared is att:
            released += vm.unmap_pieces(m.start, m.end - m.start)
    mm.release(cage, released)
    return 0


def sys_shmctl(cage: CageView, shmid: int, cmd: int, buf: int, *_: int) -> int:
    what, ns = command(i32(cmd)), namespace(cage)
    uid, gid = credentials()
    if what == IPC_SET:
        wanted = read_set(cage.mem, pointer(buf), SHMID_DS, "shm_perm")
    seg = ns.shm.lookup(i32(shmid))
    if what == IPC_STAT:
        seg.perm.check(uid, gid, 0o444)
        addr = pointer(buf)
        cage.mem.check(addr, SHMID_DS.size)
        cage.mem.write(addr, SHMID_DS.pack(
            **perm_fields("shm_perm", seg.perm, seg.stat_mode()), shm_segsz=seg.size,
            shm_atime=seg.atime, shm_dtime=seg.dtime, shm_ctime=seg.ctime, shm_cpid=seg.cpid,
            shm_lpid=seg.lpid, shm_nattch=seg.nattch))
        return 0
    if what == IPC_SET:
        seg.perm.check_owner(uid)
        seg.perm.set(wanted["uid"], wanted["gid"], wanted["mode"])
        seg.ctime = now()
        return 0
    if what == IPC_RMID:
        seg.perm.check_owner(uid)
        if ns.shm_remove(seg):
            _destroy(seg)
        return 0
    if what in (SHM_LOCK, SHM_UNLOCK):
        seg.perm.check_owner(uid)
        seg.locked = what == SHM_LOCK
        return 0
    raise GuestError(EINVAL)  # IPC_INFO, SHM_INFO, SHM_STAT[_ANY]: not kept


ROWS: list[Row] = [
    (nr.SYS_shmget, sys_shmget, Support.FULL, "per world (microvisor)"),
    (nr.SYS_shmat, sys_shmat, Support.PARTIAL, "SHM_RDONLY recorded, not enforced"),
    (nr.SYS_shmdt, sys_shmdt, Support.FULL, ""),
    (nr.SYS_shmctl, sys_shmctl, Support.PARTIAL,
     "IPC_STAT/IPC_SET/IPC_RMID/SHM_LOCK/SHM_UNLOCK; no IPC_INFO/SHM_INFO/SHM_STAT"),
]
