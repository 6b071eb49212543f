"""Host locks mirroring the microvisor's lock tables, so other processes see cages' locks.

Theory of operation
-------------------
The tables of :mod:`lind_async.core.locks` decide everything *between cages of this process*:
POSIX per-process semantics (a process's locks merge and split and never conflict with each
other, any close drops them, fork does not pass them on), ``EDEADLK``, the holder's pid. Other
processes — a second microvisor on the same root, a host program using ``fcntl``/``lockf``/
``flock`` — only see host locks, so for each file with locks this module keeps one private
*handle*: a new open file description of the host file (reopened through ``/proc/self/fd``, never
given to a cage) that holds, as Linux OFD locks, the union of every cage's record locks (per
byte the strongest), and as a host ``flock`` the union of the cages' flock locks. OFD locks
belong to the handle, not to the microvisor process, so closing some other host fd of the file
in this process never drops them (as classic POSIX locks would), and they conflict with other
processes' POSIX, OFD and (for flock) flock locks as the kernel decides.

:func:`sync` brings the handle to the tables' union after every change: first every range whose
level rises (``F_OFD_SETLK``/``LOCK_NB``, never waiting — a refusal means another process holds a
conflicting lock), then every range whose level falls, which cannot be refused. If a rise is
refused the rises already made are lowered back (again a fall) and the caller puts its tables
back: the change never happened, on the host or here. The handle is closed when the file has no
lock left. Only files inside the root that have a host fd of their own (regular files and
directories) are mirrored; in-process kinds (pipes, sockets, FIFOs) and host stdio are not
(``flock`` on the host's log file would let a cage stall the host's own logger).

A handle is opened read-write when the host allows, else with the access the first lock needs; a
later lock needing an access it lacks, while it holds locks, is ``ENOLCK`` (a file that the
microvisor can open for reading or for writing but not both, locked both ways at once).
"""

from __future__ import annotations

import bisect
import fcntl
import os
import stat as stat_mod
import struct
from dataclasses import dataclass, field

from lind_async.abi.errno import EACCES, EAGAIN, ENOLCK, GuestError
from lind_async.core.locks import (
    F_RDLCK,
    F_UNLCK,
    F_WRLCK,
    OFFSET_MAX,
    READ,
    UNLOCKED,
    WRITE,
    FileKey,
    Segment,
    host_changes,
)
from lind_async.rawposix import hostfds

_F_OFD_GETLK = 36
_F_OFD_SETLK = 37
_HOST_FLOCK = struct.Struct("=hhxxxxqqixxxx")  # x86_64 struct flock
_HOST_TYPE = {UNLOCKED: F_UNLCK, READ: F_RDLCK, WRITE: F_WRLCK}
_REFUSED = (EAGAIN, EACCES)


@dataclass(slots=True)
class _Handle:
    fd: int
    access: int  # os.O_RDONLY, os.O_WRONLY or os.O_RDWR
    records: list[Segment] = field(default_factory=list)  # as held on the host now
    flock: int = UNLOCKED

    def can(self, level: int) -> bool:
        if level == WRITE:
            return self.access != os.O_RDONLY
        return level == UNLOCKED or self.access != os.O_WRONLY

    def empty(self) -> bool:
        return not self.records and self.flock == UNLOCKED


_handles: dict[FileKey, _Handle] = {}


def held(key: FileKey) -> tuple[list[Segment], int]:
    """What the host holds for ``key`` now (record segments, flock level): for tests."""
    handle = _handles.get(key)
    return (list(handle.records), handle.flock) if handle else ([], UNLOCKED)


def sync(key: FileKey, source: int | None, records: list[Segment], flock: int) -> bool:
    """Make the host locks of ``key`` the union ``records``/``flock``; False when another process
    holds a conflicting lock (the host then holds what it held before). ``source``: a host fd of
    the file to open the handle from (None: the file has no host mirror, or the change only
    lowers levels)."""
    handle = _handles.get(key)
    if handle is None:
        if (not records and flock == UNLOCKED) or source is None:
            return True
        handle = _open(source, records, flock)
        _handles[key] = handle
    gains, losses = host_changes(handle.records, records)
    _need_access(key, handle, source, gains, flock)
    handle = _handles[key]
    made: list[Segment] = []
    try:
        for start, end, level in gains:
            if not _setlk(handle.fd, start, end, level):
                _back_out(key, handle, made)
                return False
            made.append((start, end, level))
        if flock > handle.flock and not _flock(handle.fd, flock):
            handle.flock = UNLOCKED  # Linux drops the old lock of a refused conversion
            _back_out(key, handle, made)
            return False
    except OSError:  # the host cannot lock this file at all (a filesystem without locks…)
        _back_out(key, handle, made)
        raise
    for start, end, level in losses:
        _setlk(handle.fd, start, end, level)
    if flock < handle.flock:
        _flock(handle.fd, flock)
    handle.records = records
    handle.flock = flock
    _close_if_empty(key, handle)
    return True


def probe(key: FileKey, source: int | None, start: int, end: int, write: bool) -> Segment | None:
    """Another process's host lock that a lock ``[start, end)`` would conflict with, if any."""
    handle = _handles.get(key)
    fd = handle.fd if handle is not None else source
    if fd is None:
        return None
    kind = F_WRLCK if write else F_RDLCK
    length = 0 if end == OFFSET_MAX else end - start
    got = fcntl.fcntl(fd, _F_OFD_GETLK, _HOST_FLOCK.pack(kind, 0, start, length, 0))
    kind, _whence, at, size, _pid = _HOST_FLOCK.unpack(got)
    if kind == F_UNLCK:
        return None
    return at, OFFSET_MAX if size == 0 else at + size, WRITE if kind == F_WRLCK else READ


# -- the handle ---------------------------------------------------------------------------------
def _open(source: int, records: list[Segment], flock: int) -> _Handle:
    directory = stat_mod.S_ISDIR(os.fstat(source).st_mode)
    if directory:
        return _Handle(_reopen(source, os.O_RDONLY | os.O_DIRECTORY), os.O_RDONLY)
    return _open_for(source, _wanted(records, flock))


def _wanted(records: list[Segment], flock: int) -> int:
    levels = {level for _, _, level in records}
    if WRITE in levels and READ in levels:
        return os.O_RDWR
    return os.O_WRONLY if WRITE in levels else os.O_RDONLY


def _open_for(source: int, access: int) -> _Handle:
    for mode in (os.O_RDWR, access):
        try:
            return _Handle(_reopen(source, mode), mode)
        except OSError:
            continue
    raise GuestError(ENOLCK)


def _reopen(source: int, flags: int) -> int:
    """A new description of the file (a host fd kept for a cage: within the host fd budget)."""
    again = f"/proc/self/fd/{source}"
    return hostfds.open_fd(
        lambda: os.open(again, flags | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    )


def _need_access(
    key: FileKey, handle: _Handle, source: int | None, gains: list[Segment], flock: int
) -> None:
    """Make sure the handle may take ``gains`` (reopened if it holds nothing yet)."""
    if all(handle.can(level) for _, _, level in gains):
        return
    if not handle.empty() or source is None:
        raise GuestError(ENOLCK)
    os.close(handle.fd)
    del _handles[key]
    _handles[key] = _open_for(source, _wanted(gains, flock))
    if not all(_handles[key].can(level) for _, _, level in gains):
        os.close(_handles.pop(key).fd)
        raise GuestError(ENOLCK)


def _close_if_empty(key: FileKey, handle: _Handle) -> None:
    if handle.empty() and _handles.get(key) is handle:
        del _handles[key]
        os.close(handle.fd)  # nothing held: closing drops nothing


def _back_out(key: FileKey, handle: _Handle, made: list[Segment]) -> None:
    _undo(handle, made)
    _close_if_empty(key, handle)


def _undo(handle: _Handle, made: list[Segment]) -> None:
    """Lower each range raised so far back to its old level (a fall: never refused)."""
    starts = [s for s, _, _ in handle.records]
    for start, end, _level in made:
        i = bisect.bisect_right(starts, start) - 1
        old = UNLOCKED
        if i >= 0 and handle.records[i][1] > start:
            old = handle.records[i][2]
        _setlk(handle.fd, start, end, old)


# -- host calls -----------------------------------------------------------------------------------
def _setlk(fd: int, start: int, end: int, level: int) -> bool:
    length = 0 if end == OFFSET_MAX else end - start
    try:
        fcntl.fcntl(fd, _F_OFD_SETLK, _HOST_FLOCK.pack(_HOST_TYPE[level], 0, start, length, 0))
    except OSError as exc:
        if exc.errno in _REFUSED and level != UNLOCKED:
            return False
        raise
    return True


def _flock(fd: int, level: int) -> bool:
    operation = {UNLOCKED: fcntl.LOCK_UN, READ: fcntl.LOCK_SH, WRITE: fcntl.LOCK_EX}[level]
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
