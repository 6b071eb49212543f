"""RawPOSIX file locks: ``flock`` and ``fcntl`` record locks; waiting suspends only the caller.

Theory of operation
-------------------
All cages share one process, so the lock tables of :mod:`lind_async.core.locks` are the whole
truth (no host ``flock``/``fcntl``). A file is named by its host identity (``st_dev``,
``st_ino``: :meth:`FileOps.lock_key`), so two cages opening the same file separately contend.

Owners: a ``flock`` lock and an OFD record lock belong to the open file description (``dup`` and
``fork`` share it); a POSIX record lock belongs to the cage. Release points:

- the description's last close drops its flock and OFD locks (:func:`description_released`,
  called by ``HostFile``/FIFO ``release``; other kinds register a weakref finalizer);
- ``close`` of *any* descriptor of a file drops the cage's POSIX locks on it (:func:`fd_closing`,
  from ``io.sys_close``);
- the cage's exit drops all its POSIX locks: the first POSIX lock a cage takes starts a small task
  that waits for ``cage.exited`` (no runtime hook needed).

A waiter (``LOCK_EX`` without ``LOCK_NB``, ``F_SETLKW``) parks on the file's wait list through
``cage.block_on`` (a signal ends it with ``EINTR``); any change to the file's locks wakes every
waiter of that file to retry.
"""

from __future__ import annotations

import asyncio
import struct
import weakref
from typing import TYPE_CHECKING

from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EBADF, EDEADLK, EINVAL, EWOULDBLOCK, GuestError
from lind_async.core.locks import (
    F_RDLCK,
    F_UNLCK,
    F_WRLCK,
    OFFSET_MAX,
    FileKey,
    FlockTable,
    Owner,
    RecordTable,
    byte_range,
)
from lind_async.rawposix.args import i32
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.files import FileOps, SysResult
    from lind_async.runtime.cage import Cage

LOCK_SH = 1
LOCK_EX = 2
LOCK_NB = 4
LOCK_UN = 8
LOCK_MAND = 32

F_GETLK = 5
F_SETLK = 6
F_SETLKW = 7
F_OFD_GETLK = 36
F_OFD_SETLK = 37
F_OFD_SETLKW = 38
RECORD_COMMANDS = (F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)

_FLOCK = struct.Struct(L.FLOCK.fmt)  # l_type, l_whence, l_start, l_len, l_pid

FLOCKS = FlockTable()
RECORDS = RecordTable()
_waiters: dict[FileKey, set[asyncio.Future[None]]] = {}
_posix_holders: dict[int, set[FileKey]] = {}  # cage id -> files it may hold POSIX locks on
_finalized: set[int] = set()  # descriptions (not HostFile/FIFO) with a release finalizer
_exit_tasks: set[asyncio.Task[None]] = set()
_flock_index: dict[int, set[FileKey]] = {}  # description id -> files it holds flock locks on
_lockers: set[int] = set()  # descriptions that took a flock or OFD lock (release must look)


# -- waiting --------------------------------------------------------------------------------------
async def _wait(cage: Cage, key: FileKey) -> None:
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting = _waiters.setdefault(key, set())
    waiting.add(ready)
    try:
        await cage.block_on(ready)
    finally:
        waiting.discard(ready)
        if not waiting and _waiters.get(key) is waiting:
            del _waiters[key]


def _wake(keys: list[FileKey]) -> None:
    for key in keys:
        for ready in _waiters.get(key, ()):
            if not ready.done():
                ready.set_result(None)


# -- release points -------------------------------------------------------------------------------
def description_released(file: FileOps) -> None:
    """The last descriptor of ``file`` closed: drop its flock and OFD locks."""
    ident = id(file)
    if ident not in _lockers:
        return  # the common case: this description never locked anything
    _finalized.discard(ident)
    _drop_description(ident)


def _drop_description(ident: int) -> None:
    _lockers.discard(ident)
    changed = RECORDS.release(Owner(ident, posix=False))
    for key in _flock_index.pop(ident, ()):
        if FLOCKS.unlock(key, ident):
            changed.append(key)
    _wake(changed)


def _track_description(file: FileOps) -> None:
    """Make sure the description's locks go when it does (kinds whose release does not call
    :func:`description_released`)."""
    from lind_async.rawposix.files import HostFile

    ident = id(file)
    _lockers.add(ident)
    if isinstance(file, HostFile) or getattr(file, "releases_locks", False):
        return
    if ident not in _finalized:
        _finalized.add(ident)
        weakref.finalize(file, _finalize, ident)


def _finalize(ident: int) -> None:
    if ident in _finalized:
        _finalized.discard(ident)
        _drop_description(ident)


def fd_closing(cage: Cage, file: FileOps) -> None:
    """A descriptor of ``file`` is being closed: POSIX says the cage's record locks go."""
    keys = _posix_holders.get(cage.cage_id)
    if not keys:
        return
    key = file.lock_key()
    if key is None or key not in keys:
        return
    keys.discard(key)
    _wake(RECORDS.release(Owner(cage.cage_id, posix=True), key))


def _cage_holds(cage: Cage, key: FileKey) -> None:
    keys = _posix_holders.get(cage.cage_id)
    if keys is None:
        keys = _posix_holders[cage.cage_id] = set()
        task = asyncio.get_running_loop().create_task(_release_at_exit(cage))
        _exit_tasks.add(task)
        task.add_done_callback(_exit_tasks.discard)
    keys.add(key)


async def _release_at_exit(cage: Cage) -> None:
    try:
        await cage.exited.wait()
    finally:
        _posix_holders.pop(cage.cage_id, None)
        _wake(RECORDS.release(Owner(cage.cage_id, posix=True)))


# -- flock ----------------------------------------------------------------------------------------
def sys_flock(cage: Cage, fd: int, operation: int, *_: int) -> SysResult:
    file: FileOps = cage.fds.file(i32(fd))  # type: ignore[assignment]
    op = i32(operation)
    if op & LOCK_MAND:
        return 0  # Linux ignores the long-broken LOCK_MAND requests
    kind = op & ~LOCK_NB
    key = file.lock_key()
    if key is None:
        raise GuestError(EINVAL)
    ident = id(file)
    if kind == LOCK_UN:
        _flock_index.get(ident, set()).discard(key)
        if FLOCKS.unlock(key, ident):
            _wake([key])
        return 0
    if kind not in (LOCK_SH, LOCK_EX):
        raise GuestError(EINVAL)
    _track_description(file)
    exclusive = kind == LOCK_EX
    if _try_flock(key, ident, exclusive):
        return 0
    if op & LOCK_NB:
        raise GuestError(EWOULDBLOCK)
    return _flock_later(cage, key, ident, exclusive)


def _try_flock(key: FileKey, ident: int, exclusive: bool) -> bool:
    granted, changed = FLOCKS.try_lock(key, ident, exclusive)
    if changed:
        _wake([key])
    if granted:
        _flock_index.setdefault(ident, set()).add(key)
    return granted


async def _flock_later(cage: Cage, key: FileKey, ident: int, exclusive: bool) -> int:
    while True:
        await _wait(cage, key)
        if _try_flock(key, ident, exclusive):
            return 0


# -- fcntl record locks ---------------------------------------------------------------------------
def fcntl_lock(cage: Cage, file: FileOps, command: int, addr: int) -> SysResult:
    """``fcntl`` F_GETLK/F_SETLK/F_SETLKW and the F_OFD_* forms (``addr``: a struct flock)."""
    kind, whence, start, length, pid = cage.mem.unpack(_FLOCK, addr)
    ofd = command in (F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)
    if ofd and pid != 0:
        raise GuestError(EINVAL)
    if kind not in (F_RDLCK, F_WRLCK, F_UNLCK):
        raise GuestError(EINVAL)
    key = file.lock_key()
    if key is None:
        raise GuestError(EINVAL)
    span = byte_range(start + _base(file, whence), length)
    if span is None:
        raise GuestError(EINVAL)
    owner = Owner(id(file), posix=False) if ofd else Owner(cage.cage_id, posix=True)
    if command in (F_GETLK, F_OFD_GETLK):
        if kind == F_UNLCK:
            raise GuestError(EINVAL)
        blocker = RECORDS.conflict(key, owner, span[0], span[1], kind == F_WRLCK)
        if blocker is None:
            cage.mem.pack(_FLOCK, addr, F_UNLCK, whence, start, length, pid)
        else:
            size = 0 if blocker.end == OFFSET_MAX else blocker.end - blocker.start
            kind_out = F_WRLCK if blocker.write else F_RDLCK
            cage.mem.pack(_FLOCK, addr, kind_out, 0, blocker.start, size, blocker.owner.pid)
        return 0
    if (kind == F_RDLCK and not file.readable()) or (kind == F_WRLCK and not file.writable()):
        raise GuestError(EBADF)
    if ofd:
        _track_description(file)
    else:
        _cage_holds(cage, key)
    if _try_record(key, owner, span, kind):
        return 0
    if command in (F_SETLK, F_OFD_SETLK):
        raise GuestError(EWOULDBLOCK)
    return _record_later(cage, key, owner, span, kind)


def _try_record(key: FileKey, owner: Owner, span: tuple[int, int], kind: int) -> bool:
    if not RECORDS.set(key, owner, span[0], span[1], kind):
        return False
    _wake([key])
    return True


async def _record_later(
    cage: Cage, key: FileKey, owner: Owner, span: tuple[int, int], kind: int
) -> int:
    while True:
        blocker = RECORDS.conflict(key, owner, span[0], span[1], kind == F_WRLCK)
        if blocker is None:
            if _try_record(key, owner, span, kind):
                return 0
            continue
        if RECORDS.would_deadlock(owner, blocker.owner):
            raise GuestError(EDEADLK)
        RECORDS.start_wait(owner, blocker.owner)
        try:
            await _wait(cage, key)
        finally:
            RECORDS.end_wait(owner)


def _base(file: FileOps, whence: int) -> int:
    if whence == 0:
        return 0
    if whence == 1:
        return file.seek(0, 1)
    if whence == 2:
        return file.stat().st_size
    raise GuestError(EINVAL)


ROWS: list[Row] = [
    (nr.SYS_flock, sys_flock, Support.FULL, "in-process lock table shared by all cages"),
]
