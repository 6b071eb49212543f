"""RawPOSIX System V semaphores: semget, semop, semtimedop, semctl.

Theory of operation
-------------------
The sets and ``semop``'s all-or-nothing rule are core/ipc_sem.py; this module decodes the
arguments, checks them in Linux's order, and waits. A ``semop`` that cannot proceed parks only the
calling cage (its thread): it is counted in ``semncnt``/``semzcnt`` of the semaphore it waits on
and looks again after every change of the set (a ``semop``, ``SETVAL``/``SETALL``, an exit's
``SEM_UNDO``); ``IPC_RMID`` ends it with ``EIDRM``, a signal with ``EINTR`` (never restarted, as
Linux), ``semtimedop``'s timeout with ``EAGAIN``. :func:`process_exited` applies a process's
``SEM_UNDO`` adjustments when it ends (runtime/cage.py calls it).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import E2BIG, EAGAIN, EFBIG, EIDRM, EINVAL, GuestError
from lind_async.abi.layouts import SEMBUF, SEMID_DS
from lind_async.core.ipc import IPC_RMID, IPC_SET, IPC_STAT
from lind_async.core.ipc_sem import (
    GETALL,
    GETNCNT,
    GETPID,
    GETVAL,
    GETZCNT,
    SEMOPM,
    SETALL,
    SETVAL,
    SemOp,
    SemSet,
)
from lind_async.rawposix import sysv_ipc as ipc
from lind_async.rawposix.args import i32, pointer, size
from lind_async.rawposix.structs import read_timespec
from lind_async.rawposix.table import Row, Support, SysResult

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_SEMBUF = struct.Struct(SEMBUF.fmt)


def sys_semget(cage: CageView, key: int, nsems: int, flags: int, *_: int) -> int:
    uid, gid = ipc.credentials()
    return ipc.namespace(cage).sem_get(i32(key), i32(nsems), i32(flags), uid=uid, gid=gid,
                                       now=ipc.now()).ident


def sys_semop(cage: CageView, semid: int, sops: int, nsops: int, *_: int) -> SysResult:
    return _semop(cage, i32(semid), pointer(sops), size(nsops), None)


def sys_semtimedop(cage: CageView, semid: int, sops: int, nsops: int, timeout: int, *_: int
                   ) -> SysResult:
    return _semop(cage, i32(semid), pointer(sops), size(nsops), pointer(timeout))


def _semop(cage: CageView, semid: int, sops: int, nsops: int, timeout: int | None
           ) -> SysResult:
    if nsops < 1 or semid < 0:
        raise GuestError(EINVAL)
    if nsops > SEMOPM:
        raise GuestError(E2BIG)
    raw = cage.mem.read(sops, nsops * _SEMBUF.size)
    ops: list[SemOp] = [_SEMBUF.unpack_from(raw, i * _SEMBUF.size) for i in range(nsops)]
    wait_ns = read_timespec(cage.mem, timeout) if timeout else None
    sems = ipc.namespace(cage).sem.lookup(semid)
    if max(num for num, _, _ in ops) >= sems.nsems:
        raise GuestError(EFBIG)
    uid, gid = ipc.credentials()
    sems.perm.check(uid, gid, 0o222 if any(op for _, op, _ in ops) else 0o444)
    blocked = sems.apply(ops, cage.cage_id, ipc.now())
    if blocked is None:
        ipc.changed(sems)
        return 0
    return _wait(cage, sems, ops, blocked, wait_ns)


async def _wait(cage: CageView, sems: SemSet, ops: Sequence[SemOp], blocked: tuple[int, bool],
                wait_ns: int | None) -> int:
    q = ipc.queue(sems)
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        q.wake_all()

    timer = None if wait_ns is None else asyncio.get_running_loop().call_later(wait_ns / 1e9,
                                                                               expire)
    # Not blocking.block: the wait is counted (semncnt/semzcnt) while it lasts, and the
    # timeout is checked only after a failed retry (semtimedop's EAGAIN).
    try:
        while True:
            num, for_zero = blocked
            sems.wait(num, for_zero, +1)
            try:
                await q.wait(cage)
            finally:
                sems.wait(num, for_zero, -1)
            if sems.removed:
                raise GuestError(EIDRM)
            again = sems.apply(ops, cage.cage_id, ipc.now())
            if again is None:
                ipc.changed(sems)
                return 0
            if expired:
                raise GuestError(EAGAIN)
            blocked = again
    finally:
        if timer is not None:
            timer.cancel()


def sys_semctl(cage: CageView, semid: int, semnum: int, cmd: int, arg: int, *_: int) -> int:
    what, num = ipc.command(i32(cmd)), i32(semnum)
    uid, gid = ipc.credentials()
    if what == IPC_SET:
        wanted = ipc.read_set(cage.mem, pointer(arg), SEMID_DS, "sem_perm")
    sems = ipc.namespace(cage).sem.lookup(i32(semid))
    if what == IPC_STAT:
        sems.perm.check(uid, gid, 0o444)
        cage.mem.write(pointer(arg), SEMID_DS.pack(
            **ipc.perm_fields("sem_perm", sems.perm, sems.perm.mode), sem_otime=sems.otime,
            sem_ctime=sems.ctime, sem_nsems=sems.nsems))
        return 0
    if what == IPC_SET:
        sems.perm.check_owner(uid)
        sems.perm.set(wanted["uid"], wanted["gid"], wanted["mode"])
        sems.ctime = ipc.now()
        return 0
    if what == IPC_RMID:
        sems.perm.check_owner(uid)
        ipc.namespace(cage).sem.drop(sems)
        ipc.changed(sems)  # waiters: EIDRM
        return 0
    if what == GETALL:
        sems.perm.check(uid, gid, 0o444)
        cage.mem.write(pointer(arg), struct.pack(f"<{sems.nsems}H", *sems.values))
        return 0
    if what == SETALL:
        sems.perm.check(uid, gid, 0o222)
        values = struct.unpack(f"<{sems.nsems}H", cage.mem.read(pointer(arg), 2 * sems.nsems))
        sems.set_all(values, cage.cage_id, ipc.now())
        ipc.changed(sems)
        return 0
    if what not in (GETVAL, GETPID, GETNCNT, GETZCNT, SETVAL):
        raise GuestError(EINVAL)  # IPC_INFO, SEM_INFO, SEM_STAT[_ANY]: not kept
    if not 0 <= num < sems.nsems:
        raise GuestError(EINVAL)
    if what == SETVAL:
        sems.perm.check(uid, gid, 0o222)
        sems.set_value(num, i32(arg), cage.cage_id, ipc.now())
        ipc.changed(sems)
        return 0
    sems.perm.check(uid, gid, 0o444)
    return {GETVAL: sems.values, GETPID: sems.pids, GETNCNT: sems.ncnt,
            GETZCNT: sems.zcnt}[what][num]


def process_exited(cage: CageView) -> None:
    """Cage ``cage`` (a process) ended: its ``SEM_UNDO`` adjustments are applied."""
    ns = ipc.existing_namespace(cage)
    if ns is not None:
        for sems in ns.exit_undo(cage.cage_id):
            ipc.changed(sems)


ROWS: list[Row] = [
    (nr.SYS_semget, sys_semget, Support.FULL, "per world (microvisor)"),
    (nr.SYS_semop, sys_semop, Support.FULL, "SEM_UNDO, IPC_NOWAIT; blocks only the caller"),
    (nr.SYS_semtimedop, sys_semtimedop, Support.FULL, ""),
    (nr.SYS_semctl, sys_semctl, Support.PARTIAL, "no IPC_INFO/SEM_INFO/SEM_STAT"),
]
