"""RawPOSIX file locks: ``flock`` and ``fcntl`` record locks; waiting suspends only the caller.

Theory of operation
-------------------
Between cages of this process the lock tables of :mod:`lind_async.core.locks` decide; towards
every other process (another microvisor on the root, host programs) the tables' union is held as
host locks on the host file (:mod:`lind_async.rawposix.host_locks`). A change is made in the
tables first and then on the host; if the host refuses (another process holds a conflicting
lock) the tables are put back and the caller sees ``EAGAIN``/``EWOULDBLOCK``, or waits. A file is
named by its host identity (``st_dev``, ``st_ino``: :meth:`FileOps.lock_key`), so two cages
opening the same file separately contend, whichever root they opened it through.

Owners: a ``flock`` lock and an OFD record lock belong to the open file description (``dup`` and
``fork`` share it); a POSIX record lock belongs to the cage — its pid *and its world*, since two
roots of one process number their cages independently. Release points:

- the description's last close drops its flock and OFD locks (:func:`description_released`,
  called by ``HostFile``/FIFO ``release``; other kinds register a weakref finalizer);
- ``close`` of *any* descriptor of a file drops the cage's POSIX locks on it (:func:`fd_closing`,
  from ``io.sys_close``);
- the cage's exit drops all its POSIX locks: the first POSIX lock a cage takes starts a small task
  that waits for ``cage.exited`` (no runtime hook needed).

A waiter (``LOCK_EX`` without ``LOCK_NB``, ``F_SETLKW``) parks on the file's wait list through
``cage.block_on`` (a signal ends it with ``EINTR``); any change to the file's locks here wakes
every waiter of that file to retry. A waiter held up by another process cannot be woken that way
(the kernel tells nobody), so it retries on a timer, 2 ms doubling up to 50 ms; the event loop
never waits. ``EDEADLK`` is found among cages' POSIX locks (the waits-for graph), not through other
processes. ``F_GETLK`` reports a cage's pid only to cages of the same world, else -1 (also for
locks of other processes, whose host pids mean nothing inside a world).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
import weakref
from typing import TYPE_CHECKING

from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EBADF, EDEADLK, EINVAL, EWOULDBLOCK, GuestError
from lind_async.abi.flags import O_PATH
from lind_async.core.locks import (
    F_RDLCK,
    F_UNLCK,
    F_WRLCK,
    OFFSET_MAX,
    WRITE,
    FileKey,
    FlockTable,
    Owner,
    RecordLock,
    RecordTable,
    byte_range,
)
from lind_async.rawposix import host_locks
from lind_async.rawposix.args import i32
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.files import FileOps, SysResult
    from lind_async.rawposix.kernel import CageView

log = logging.getLogger("lind_async.locks")

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
_FIRST_RETRY = 0.002  # seconds: a waiter held up by another process retries on this timer...
_LAST_RETRY = 0.05  # ...doubling up to this

FLOCKS = FlockTable()
RECORDS = RecordTable()
_waiters: dict[FileKey, set[asyncio.Future[None]]] = {}
_posix_holders: dict[Owner, set[FileKey]] = {}  # cage -> files it may hold POSIX locks on
_finalized: set[int] = set()  # descriptions (not HostFile/FIFO) with a release finalizer
_exit_tasks: set[asyncio.Task[None]] = set()
_flock_index: dict[int, set[FileKey]] = {}  # description id -> files it holds flock locks on
_lockers: set[int] = set()  # descriptions that took a flock or OFD lock (release must look)
_worlds: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
_world_numbers = itertools.count(1)


class _External:
    """Another process holds a conflicting host lock."""


EXTERNAL = _External()


# -- owners ---------------------------------------------------------------------------------------
def _world(cage: CageView) -> int:
    """A number for the cage's world (one root of one microvisor: ``runtime/world.py``)."""
    number = _worlds.get(cage.world)
    if number is None:
        number = _worlds[cage.world] = next(_world_numbers)
    return number


def _posix_owner(cage: CageView) -> Owner:
    return Owner(cage.cage_id, posix=True, world=_world(cage))


def _source(file: FileOps) -> int | None:
    """The host fd a file's host locks are taken through (None: not mirrored on the host)."""
    from lind_async.rawposix.host_file import HostFile

    if isinstance(file, HostFile) and file.kind in (0o100000, 0o040000):  # S_IFREG, S_IFDIR
        return file.host_fd
    return None


def _sync(key: FileKey, file: FileOps | None) -> bool:
    """Bring the host locks to the tables' union (see ``host_locks.sync``)."""
    source = _source(file) if file is not None else None
    return host_locks.sync(key, source, RECORDS.union(key), FLOCKS.level(key))


def _settle(keys: list[FileKey]) -> None:
    """Locks were dropped from the tables: drop them on the host too and wake the waiters."""
    for key in keys:
        try:
            _sync(key, None)
        except (OSError, GuestError):  # a fall cannot be refused; log a host failure, go on
            log.exception("lowering the host locks of %s failed", key)
    _wake(keys)


# -- waiting --------------------------------------------------------------------------------------
async def _wait(cage: CageView, key: FileKey, timeout: float | None = None) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    waiting = _waiters.setdefault(key, set())
    waiting.add(ready)
    timer = None
    if timeout is not None:
        timer = loop.call_later(timeout, _set, ready)
    try:
        await cage.block_on(ready)
    finally:
        if timer is not None:
            timer.cancel()
        waiting.discard(ready)
        if not waiting and _waiters.get(key) is waiting:
            del _waiters[key]


def _set(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _wake(keys: list[FileKey]) -> None:
    for key in keys:
        for ready in _waiters.get(key, ()):
            _set(ready)


def _next_retry(delay: float) -> float:
    return min(delay * 2, _LAST_RETRY)


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
    _settle(changed)


def _track_description(file: FileOps) -> None:
    """Make sure the description's locks go when it does (kinds whose release does not call
    :func:`description_released`)."""
    from lind_async.rawposix.host_file import HostFile

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


def fd_closing(cage: CageView, file: FileOps) -> None:
    """A descriptor of ``file`` is being closed: POSIX says the cage's record locks go."""
    if not _posix_holders:
        return  # the common case: no cage holds a record lock
    owner = _posix_owner(cage)
    keys = _posix_holders.get(owner)
    if not keys:
        return
    key = file.lock_key()
    if key is None or key not in keys:
        return
    keys.discard(key)
    _settle(RECORDS.release(owner, key))


def _cage_holds(cage: CageView, owner: Owner, key: FileKey) -> None:
    keys = _posix_holders.get(owner)
    if keys is None:
        keys = _posix_holders[owner] = set()
        task = asyncio.get_running_loop().create_task(_release_at_exit(cage, owner))
        _exit_tasks.add(task)
        task.add_done_callback(_exit_tasks.discard)
    keys.add(key)


async def _release_at_exit(cage: CageView, owner: Owner) -> None:
    try:
        await cage.exited.wait()
    finally:
        _posix_holders.pop(owner, None)
        _settle(RECORDS.release(owner))


# -- flock ----------------------------------------------------------------------------------------
def sys_flock(cage: CageView, fd: int, operation: int, *_: int) -> SysResult:
    file: FileOps = cage.fds.file(i32(fd))  # type: ignore[assignment]
    op = i32(operation)
    if file.status_flags & O_PATH:
        raise GuestError(EBADF)
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
            _settle([key])
        return 0
    if kind not in (LOCK_SH, LOCK_EX):
        raise GuestError(EINVAL)
    _track_description(file)
    exclusive = kind == LOCK_EX
    blocked = _try_flock(file, key, ident, exclusive)
    if blocked is True:
        return 0
    if op & LOCK_NB:
        raise GuestError(EWOULDBLOCK)
    return _flock_later(cage, file, key, ident, exclusive, blocked)


def _try_flock(file: FileOps, key: FileKey, ident: int, exclusive: bool) -> bool | _External:
    """True when granted; False when a cage's lock is in the way; EXTERNAL for another process's
    (a conversion refused either way has dropped the old lock, as on Linux)."""
    granted, changed = FLOCKS.try_lock(key, ident, exclusive)
    if not granted:
        if changed:
            _flock_index.get(ident, set()).discard(key)
            _settle([key])
        return False
    if not _sync(key, file):
        FLOCKS.unlock(key, ident)
        _flock_index.get(ident, set()).discard(key)
        _settle([key])
        return EXTERNAL
    _flock_index.setdefault(ident, set()).add(key)
    if changed:
        _wake([key])
    return True


async def _flock_later(cage: CageView, file: FileOps, key: FileKey, ident: int, exclusive: bool,
                       blocked: bool | _External) -> int:
    """Wait until the lock is granted; ``blocked``: why the last try failed."""
    # Not blocking.block: a lock held outside the microvisor is polled with a growing backoff.
    retry = _FIRST_RETRY
    while True:
        if blocked is EXTERNAL:
            await _wait(cage, key, retry)
            retry = _next_retry(retry)
        else:
            await _wait(cage, key)
            retry = _FIRST_RETRY
        blocked = _try_flock(file, key, ident, exclusive)
        if blocked is True:
            return 0


# -- fcntl record locks ---------------------------------------------------------------------------
def fcntl_lock(cage: CageView, file: FileOps, command: int, addr: int) -> SysResult:
    """``fcntl`` F_GETLK/F_SETLK/F_SETLKW and the F_OFD_* forms (``addr``: a struct flock)."""
    if file.status_flags & O_PATH:
        raise GuestError(EBADF)
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
    owner = Owner(id(file), posix=False) if ofd else _posix_owner(cage)
    if command in (F_GETLK, F_OFD_GETLK):
        if kind == F_UNLCK:
            raise GuestError(EINVAL)
        _get_lock(cage, file, key, owner, span, kind == F_WRLCK, addr, (whence, start, length, pid))
        return 0
    if (kind == F_RDLCK and not file.readable()) or (kind == F_WRLCK and not file.writable()):
        raise GuestError(EBADF)
    if ofd:
        _track_description(file)
    else:
        _cage_holds(cage, owner, key)
    if _try_record(file, key, owner, span, kind) is None:
        return 0
    if command in (F_SETLK, F_OFD_SETLK):
        raise GuestError(EWOULDBLOCK)
    return _record_later(cage, file, key, owner, span, kind)


def _get_lock(cage: CageView, file: FileOps, key: FileKey, owner: Owner, span: tuple[int, int],
              write: bool, addr: int, asked: tuple[int, int, int, int]) -> None:
    blocker = RECORDS.conflict(key, owner, span[0], span[1], write)
    if blocker is not None:
        found = (blocker.start, blocker.end, WRITE if blocker.write else 0)
        who = blocker.owner
        holder = who.ident if who.posix and who.world == _world(cage) else -1
    else:
        other = host_locks.probe(key, _source(file), span[0], span[1], write)
        if other is None:
            whence, start, length, pid = asked
            cage.mem.pack(_FLOCK, addr, F_UNLCK, whence, start, length, pid)
            return
        found, holder = other, -1
    begin, end, level = found
    size = 0 if end == OFFSET_MAX else end - begin
    kind = F_WRLCK if level == WRITE else F_RDLCK
    cage.mem.pack(_FLOCK, addr, kind, 0, begin, size, holder)


def _try_record(
    file: FileOps, key: FileKey, owner: Owner, span: tuple[int, int], kind: int
) -> RecordLock | _External | None:
    """Set the lock now: None when done, else the cage's lock or EXTERNAL in the way."""
    if kind != F_UNLCK:
        blocker = RECORDS.conflict(key, owner, span[0], span[1], kind == F_WRLCK)
        if blocker is not None:
            return blocker
    saved = RECORDS.owner_locks(key, owner)
    RECORDS.set(key, owner, span[0], span[1], kind)
    try:
        synced = _sync(key, file)
    except BaseException:
        RECORDS.restore(key, owner, saved)
        _settle([key])
        raise
    if not synced:
        RECORDS.restore(key, owner, saved)
        _settle([key])
        return EXTERNAL
    _wake([key])
    return None


async def _record_later(
    cage: CageView, file: FileOps, key: FileKey, owner: Owner, span: tuple[int, int], kind: int
) -> int:
    # Not blocking.block: external locks are polled with backoff, and each wait is recorded
    # for deadlock detection (EDEADLK).
    retry = _FIRST_RETRY
    while True:
        blocker = _try_record(file, key, owner, span, kind)
        if blocker is None:
            return 0
        if isinstance(blocker, _External):
            await _wait(cage, key, retry)
            retry = _next_retry(retry)
            continue
        retry = _FIRST_RETRY
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
    (nr.SYS_flock, sys_flock, Support.FULL, "host flock, seen by other processes too"),
]
