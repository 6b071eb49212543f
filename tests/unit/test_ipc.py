"""System V IPC namespace state (core/ipc.py, ipc_ns.py, ipc_sem.py, ipc_msg.py): identifiers,
keys, permissions, shm_nattch and IPC_RMID, semop's all-or-nothing rule and SEM_UNDO, message
selection."""

import pytest

from lind_async.abi.errno import (
    E2BIG,
    EACCES,
    EAGAIN,
    EEXIST,
    EINVAL,
    ENOENT,
    EPERM,
    ERANGE,
    GuestError,
)
from lind_async.core.ipc import IPC_CREAT, IPC_EXCL, IPC_NOWAIT, IPCMNI, Perm
from lind_async.core.ipc_msg import MSG_EXCEPT, MSG_NOERROR
from lind_async.core.ipc_ns import IpcNamespace
from lind_async.core.ipc_sem import SEM_UNDO, SEMVMX

ME = {"uid": 1000, "gid": 100}


def errno_of(fn: object) -> int:
    with pytest.raises(GuestError) as info:
        fn()  # type: ignore[operator]
    return info.value.errno


def test_identifiers_keys_and_removal() -> None:
    ns = IpcNamespace()
    a, new = ns.shm_get(0, 100, IPC_CREAT | 0o600, pid=1, now=5, **ME)
    b, _ = ns.shm_get(0, 100, IPC_CREAT | 0o600, pid=1, now=5, **ME)
    assert new and a.ident != b.ident and a.ident % IPCMNI == 0 and b.ident % IPCMNI == 1
    k, _ = ns.shm_get(42, 4096, IPC_CREAT | 0o640, pid=1, now=5, **ME)
    assert ns.shm_get(42, 0, 0, pid=1, now=5, **ME) == (k, False)
    assert errno_of(lambda: ns.shm_get(42, 1, IPC_CREAT | IPC_EXCL, pid=1, now=5, **ME)) == EEXIST
    assert errno_of(lambda: ns.shm_get(42, 8192, 0, pid=1, now=5, **ME)) == EINVAL
    assert errno_of(lambda: ns.shm_get(43, 1, 0, pid=1, now=5, **ME)) == ENOENT
    assert errno_of(lambda: ns.shm_get(0, 0, IPC_CREAT, pid=1, now=5, **ME)) == EINVAL
    assert ns.shm_remove(a) is True  # nothing attached: gone at once
    assert errno_of(lambda: ns.shm.lookup(a.ident)) == EINVAL
    c, _ = ns.shm_get(0, 100, IPC_CREAT, pid=1, now=5, **ME)
    assert c.ident % IPCMNI == 0 and c.ident != a.ident  # the slot again, a new identifier
    assert errno_of(lambda: ns.shm.lookup(a.ident)) == EINVAL  # the stale one names nothing


def test_removed_segment_lives_until_its_last_attach() -> None:
    ns = IpcNamespace()
    seg, _ = ns.shm_get(7, 4096, IPC_CREAT | 0o600, pid=1, now=5, **ME)
    seg.nattch = 2
    assert ns.shm_remove(seg) is False
    assert seg.perm.key == 0 and seg.removed and seg.stat_mode() & 0o1000
    assert errno_of(lambda: ns.shm_get(7, 0, 0, pid=1, now=5, **ME)) == ENOENT  # key free
    fresh, new = ns.shm_get(7, 4096, IPC_CREAT | IPC_EXCL, pid=1, now=5, **ME)
    assert new and fresh is not seg
    assert ns.shm.lookup(seg.ident) is seg  # still attachable by identifier
    assert ns.shm_detached(seg, now=9) is False and seg.dtime == 9
    assert ns.shm_detached(seg, now=9) is True
    assert errno_of(lambda: ns.shm.lookup(seg.ident)) == EINVAL


def test_permissions() -> None:
    perm = Perm(1, uid=10, gid=20, cuid=11, cgid=21, mode=0o640)
    assert perm.allows(10, 0, 0o600) and perm.allows(10, 0, 0o066)  # bits fold, as ipcperms
    assert perm.allows(10, 0, 0o100) is False
    assert perm.allows(11, 0, 0o600)  # the creator counts as the owner
    assert perm.allows(99, 21, 0o444) and not perm.allows(99, 21, 0o222)
    assert not perm.allows(99, 99, 0o444)
    assert perm.allows(0, 0, 0o666)  # uid 0
    assert errno_of(lambda: perm.check(99, 99, 0o444)) == EACCES
    assert errno_of(lambda: perm.check_owner(99)) == EPERM
    perm.check_owner(11)
    ns = IpcNamespace()
    ns.msg_get(5, IPC_CREAT | 0o600, uid=10, gid=20, now=0)
    assert errno_of(lambda: ns.msg_get(5, 0o400, uid=12, gid=20, now=0)) == EACCES
    ns.msg_get(5, 0, uid=12, gid=20, now=0)  # asking for nothing


def test_semop_is_all_or_nothing() -> None:
    ns = IpcNamespace()
    s = ns.sem_get(0, 3, IPC_CREAT | 0o600, now=1, **ME)
    s.values[:] = [1, 2, 3]
    assert s.apply([(0, -1, 0), (2, -4, 0)], pid=5, now=2) == (2, False)
    assert s.values == [1, 2, 3] and s.otime == 0  # nothing changed
    assert errno_of(lambda: s.apply([(0, -1, 0), (2, -4, IPC_NOWAIT)], 5, 2)) == EAGAIN
    assert s.apply([(0, -1, 0), (2, -3, 0)], pid=5, now=2) is None
    assert s.values == [0, 2, 0] and s.pids == [5, 0, 5] and s.otime == 2
    assert s.apply([(1, 3, 0), (1, -5, 0)], pid=6, now=3) is None and s.values[1] == 0
    assert s.apply([(1, 0, 0)], 6, 3) is None  # zero: proceeds
    s.values[1] = 1
    assert s.apply([(1, 0, 0)], 6, 3) == (1, True)
    s.values[1] = SEMVMX
    assert errno_of(lambda: s.apply([(1, 1, 0)], 6, 3)) == ERANGE
    s.wait(0, False, +1)
    assert s.ncnt[0] == 1 and s.zcnt[0] == 0


def test_sem_undo() -> None:
    ns = IpcNamespace()
    s = ns.sem_get(0, 2, IPC_CREAT | 0o600, now=1, **ME)
    s.values[:] = [10, 10]
    assert s.apply([(0, -3, SEM_UNDO), (0, 1, SEM_UNDO), (1, 5, 0)], pid=7, now=2) is None
    assert s.adj == {7: [2, 0]}
    assert s.apply([(1, -4, SEM_UNDO)], pid=8, now=2) is None
    assert ns.exit_undo(7) == [s] and s.values == [10, 11] and s.pids[0] == 7
    assert ns.exit_undo(7) == []
    s.set_value(1, 0, pid=1, now=3)  # clears pid 8's adjustment of it
    assert ns.exit_undo(8) == [s] and s.values == [10, 0]
    s.values[0] = 1
    s.apply([(0, 1, SEM_UNDO)], pid=9, now=3)
    s.values[0] = 0
    ns.exit_undo(9)
    assert s.values[0] == 0  # clamped at zero, as Linux
    assert errno_of(lambda: s.set_value(0, SEMVMX + 1, 1, 1)) == ERANGE
    assert errno_of(lambda: s.set_all([1], 1, 1)) == EINVAL
    assert errno_of(lambda: ns.sem_get(0, 0, IPC_CREAT, now=1, **ME)) == EINVAL


def test_message_selection() -> None:
    ns = IpcNamespace()
    q = ns.msg_get(0, IPC_CREAT | 0o600, now=1, **ME)
    for mtype, text in [(3, b"three"), (1, b"one"), (2, b"two"), (1, b"one again")]:
        assert q.send(mtype, text, pid=4, now=2)
    assert q.cbytes == 20 and q.lspid == 4
    assert q.receive(2, 64, 0, pid=5, now=3) == (2, b"two")
    assert q.receive(-2, 64, 0, pid=5, now=3) == (1, b"one")  # lowest type <= 2
    assert q.receive(1, 64, MSG_EXCEPT, pid=5, now=3) == (3, b"three")
    assert q.receive(7, 64, 0, pid=5, now=3) is None
    assert errno_of(lambda: q.receive(0, 3, 0, 5, 3)) == E2BIG
    assert len(q.messages) == 1  # left queued
    assert q.receive(0, 3, MSG_NOERROR, pid=5, now=3) == (1, b"one")
    assert q.cbytes == 0 and q.lrpid == 5


def test_queue_limits() -> None:
    ns = IpcNamespace()
    q = ns.msg_get(0, IPC_CREAT | 0o600, now=1, **ME)
    q.qbytes = 10
    assert q.send(1, b"x" * 8, 1, 1) and not q.send(1, b"xxx", 1, 1)
    assert q.send(1, b"", 1, 1)
    q.qbytes = 2  # the number of messages is bounded by qbytes too
    assert q.receive(0, 64, 0, 1, 1) == (1, b"x" * 8)
    assert q.send(1, b"", 1, 1) and not q.send(1, b"", 1, 1)
    assert len(q.messages) == 2 and q.cbytes == 0
