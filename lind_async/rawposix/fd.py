"""RawPOSIX descriptor family: pipe, pipe2, dup, dup2, dup3 (fcntl lives with the I/O family), and
descriptors a Python grate serves (:class:`GrateFile`).

A Python grate that opens things of its own (``memfs``) numbers them in the calling cage's fd table,
as POSIX wants (lowest free number, counted against ``RLIMIT_NOFILE``, and known to ``select``,
``poll``, ``dup2``, ``fcntl``, ``fork``, ``exec`` and exit like any descriptor): it installs a
:class:`GrateFile` there, a description that names the grate (its 3i id) and the grate's own
*handle* for it. The grate serves the calls it handles on that fd by looking the number up in the
caller's table (:func:`grate_handle`): only a ``GrateFile`` with its own id is its. Everything else
RawPOSIX does with the description is generic: ``dup``/``fork`` share it, ``close``, ``exec``
(close-on-exec) and exit drop it, and the handle goes with its last reference (a grate that must
hear of that, to free something outside Python, would be the reason to add a release hook). Calls
that reach RawPOSIX itself on it get Linux's answers for a file with no such operation
(``EINVAL``/``ESPIPE``) and readiness as Linux gives a file with no ``poll`` method: always
readable and writable, as a regular file. Only Python code (a grate) makes one: no system call
creates a ``GrateFile`` from a cage's arguments, so a cage cannot forge one.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EBADF, EINVAL, GuestError
from lind_async.rawposix import locks
from lind_async.rawposix.args import i32, pointer
from lind_async.rawposix.files import FileOps
from lind_async.rawposix.pipe import new_pipe
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_FD_PAIR = struct.Struct("<ii")
O_DIRECT = 0o40000


def _release(file: object) -> None:
    if isinstance(file, FileOps):
        file.release()


def sys_pipe2(cage: CageView, fds: int, flags: int, *_: int) -> int:
    pipe_flags = i32(flags)
    if pipe_flags & ~(F.O_CLOEXEC | F.O_NONBLOCK | O_DIRECT):
        raise GuestError(EINVAL)
    addr = pointer(fds)
    cage.mem.check(addr, _FD_PAIR.size)
    reader, writer = new_pipe(pipe_flags & F.O_NONBLOCK)
    cloexec = bool(pipe_flags & F.O_CLOEXEC)
    try:
        read_fd = cage.fds.install(reader, cloexec=cloexec)
    except GuestError:
        reader.release()
        writer.release()
        raise
    try:
        write_fd = cage.fds.install(writer, cloexec=cloexec)
    except GuestError:
        _release(cage.fds.close(read_fd))
        writer.release()
        raise
    cage.mem.pack(_FD_PAIR, addr, read_fd, write_fd)
    return 0


def sys_pipe(cage: CageView, fds: int, *_: int) -> int:
    return sys_pipe2(cage, fds, 0)


def sys_dup(cage: CageView, oldfd: int, *_: int) -> int:
    return cage.fds.dup(i32(oldfd))


def _dup_to(cage: CageView, old: int, new: int, cloexec: bool) -> int:
    file = cage.fds.file(old)
    if not 0 <= new < cage.fds.limit:
        raise GuestError(EBADF)
    if new in cage.fds:
        locks.fd_closing(cage, cage.fds.file(new))  # type: ignore[arg-type]
    _release(cage.fds.install_at(new, file, cloexec=cloexec))
    return new


def sys_dup2(cage: CageView, oldfd: int, newfd: int, *_: int) -> int:
    old, new = i32(oldfd), i32(newfd)
    if old == new:
        cage.fds.file(old)  # EBADF if not open
        return new
    return _dup_to(cage, old, new, False)


def sys_dup3(cage: CageView, oldfd: int, newfd: int, flags: int, *_: int) -> int:
    old, new, dup_flags = i32(oldfd), i32(newfd), i32(flags)
    if old == new or dup_flags & ~F.O_CLOEXEC:
        raise GuestError(EINVAL)
    return _dup_to(cage, old, new, bool(dup_flags & F.O_CLOEXEC))


class GrateFile(FileOps):
    """An open file description served by the Python grate ``grate_id``; ``handle`` is the
    grate's own state for it, dropped with the description."""

    __slots__ = ("grate_id", "handle")

    def __init__(self, grate_id: int, handle: object, status_flags: int) -> None:
        super().__init__(status_flags)
        self.grate_id = grate_id
        self.handle = handle


def grate_handle(cage: CageView, fd: int, grate_id: int) -> object | None:
    """The handle behind ``cage``'s descriptor ``fd`` if grate ``grate_id`` serves it, ``None``
    if it is another kind of descriptor (``EBADF`` if it is not open)."""
    file = cage.fds.file(fd)
    if isinstance(file, GrateFile) and file.grate_id == grate_id:
        return file.handle
    return None


ROWS: list[Row] = [
    (nr.SYS_pipe, sys_pipe, Support.FULL, "in-process buffer, no host fd"),
    (nr.SYS_pipe2, sys_pipe2, Support.FULL, "O_CLOEXEC O_NONBLOCK"),
    (nr.SYS_dup, sys_dup, Support.FULL, ""),
    (nr.SYS_dup2, sys_dup2, Support.FULL, ""),
    (nr.SYS_dup3, sys_dup3, Support.FULL, ""),
]
