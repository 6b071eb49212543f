"""RawPOSIX I/O family: read/write (vectored, positional), lseek, close, ioctl, fcntl.

Handler shape (as every family): decode args → look up the fd (EBADF) → validate (EINVAL) →
bounds-check the guest buffer (EFAULT) → do the work, inline or as an awaitable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import EBADF, EBUSY, EINVAL, ENOTTY, GuestError
from lind_async.rawposix import locks
from lind_async.rawposix.args import i32, i64, pointer, size
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.pipe import PipeEnd
from lind_async.rawposix.structs import IOVEC, WINSIZE

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage

IOV_MAX = 1024
MAX_RW = 0x7FFFF000  # Linux caps a single transfer at this many bytes


def _file(cage: Cage, fd: int) -> FileOps:
    return cage.fds.file(i32(fd))  # type: ignore[return-value]


def sys_read(cage: Cage, fd: int, buf: int, count: int, *_: int) -> SysResult:
    file = _file(cage, fd)
    if not file.readable():
        raise GuestError(EBADF)
    return file.read_into(cage, cage.mem.slice(pointer(buf), min(size(count), MAX_RW)))


def sys_write(cage: Cage, fd: int, buf: int, count: int, *_: int) -> SysResult:
    file = _file(cage, fd)
    if not file.writable():
        raise GuestError(EBADF)
    return file.write_from(cage, cage.mem.slice(pointer(buf), min(size(count), MAX_RW)))


def _iovecs(cage: Cage, iov: int, iovcnt: int) -> list[memoryview]:
    count = i32(iovcnt)
    if not 0 <= count <= IOV_MAX:
        raise GuestError(EINVAL)
    base = pointer(iov)
    mem = cage.mem
    mem.check(base, count * IOVEC.size)
    views = []
    total = 0
    # Pointers stored in the array live in the same memory as the array (see
    # runtime/threei_calls.py: a call made on another cage's behalf tags foreign pointers).
    segment = base & ~0xFFFFFFFF
    for i in range(count):
        addr, length = mem.unpack(IOVEC, base + i * IOVEC.size)
        total += length
        if total > MAX_RW:
            raise GuestError(EINVAL)
        views.append(mem.slice(segment | addr, length))
    return views


Transfer = Callable[["Cage", memoryview], SysResult]


def _transfer_all(cage: Cage, views: list[memoryview], op: Transfer) -> SysResult:
    """Move data view by view, stopping at the first short transfer (as Linux readv/writev).

    Only the first transfer may wait: once some bytes have moved, a would-block ends the call
    with the count so far (a short transfer, which POSIX allows).
    """
    total = 0
    for view in views:
        if not len(view):
            continue
        result = op(cage, view)
        if result.__class__ is not int:
            if total:
                _discard(result)
                return total
            return result
        moved: int = result
        total += moved
        if moved < len(view):
            break
    return total


def _discard(pending: SysResult) -> None:
    close = getattr(pending, "close", None)
    if close is not None:
        close()


def sys_readv(cage: Cage, fd: int, iov: int, iovcnt: int, *_: int) -> SysResult:
    file = _file(cage, fd)
    if not file.readable():
        raise GuestError(EBADF)
    return _transfer_all(cage, _iovecs(cage, iov, iovcnt), file.read_into)


def sys_writev(cage: Cage, fd: int, iov: int, iovcnt: int, *_: int) -> SysResult:
    file = _file(cage, fd)
    if not file.writable():
        raise GuestError(EBADF)
    return _transfer_all(cage, _iovecs(cage, iov, iovcnt), file.write_from)


def sys_pread64(cage: Cage, fd: int, buf: int, count: int, offset: int, *_: int) -> SysResult:
    file = _file(cage, fd)
    if not file.readable():
        raise GuestError(EBADF)
    off = i64(offset)
    if off < 0:
        raise GuestError(EINVAL)
    return file.pread_into(cage.mem.slice(pointer(buf), min(size(count), MAX_RW)), off)


def sys_pwrite64(cage: Cage, fd: int, buf: int, count: int, offset: int, *_: int) -> int:
    file = _file(cage, fd)
    if not file.writable():
        raise GuestError(EBADF)
    off = i64(offset)
    if off < 0:
        raise GuestError(EINVAL)
    return file.pwrite_from(cage.mem.slice(pointer(buf), min(size(count), MAX_RW)), off)


def sys_lseek(cage: Cage, fd: int, offset: int, whence: int, *_: int) -> int:
    file = _file(cage, fd)
    how = i32(whence)
    if how not in (F.SEEK_SET, F.SEEK_CUR, F.SEEK_END, 3, 4):  # SEEK_DATA, SEEK_HOLE
        raise GuestError(EINVAL)
    return file.seek(i64(offset), how)


def sys_close(cage: Cage, fd: int, *_: int) -> int:
    vfd = i32(fd)
    locks.fd_closing(cage, cage.fds.file(vfd))  # type: ignore[arg-type]
    released = cage.fds.close(vfd)
    if released is not None:
        released.release()  # type: ignore[attr-defined]
    return 0


def sys_ioctl(cage: Cage, fd: int, request: int, arg: int, *_: int) -> int:
    file = _file(cage, fd)
    req = request & 0xFFFFFFFF
    if req == F.TIOCGWINSZ:
        rows, cols, xpix, ypix = file.winsize()
        cage.mem.pack(WINSIZE, pointer(arg), rows, cols, xpix, ypix)
        return 0
    if req == F.TCGETS:
        # isatty() probes with TCGETS; only the answer matters (termios is not emulated).
        if not file.is_tty():
            raise GuestError(ENOTTY)
        cage.mem.fill(pointer(arg), 60)
        return 0
    if req == F.FIONREAD:
        cage.mem.write_u32(pointer(arg), file.bytes_readable())
        return 0
    if req == F.FIONBIO:
        on = cage.mem.read_u32(pointer(arg))
        file.status_flags = (
            (file.status_flags | F.O_NONBLOCK) if on else (file.status_flags & ~F.O_NONBLOCK)
        )
        return 0
    raise GuestError(ENOTTY)


def sys_fcntl(cage: Cage, fd: int, cmd: int, arg: int, *_: int) -> SysResult:
    vfd, command = i32(fd), i32(cmd)
    entry = cage.fds.get(vfd)
    if command in locks.RECORD_COMMANDS:
        return locks.fcntl_lock(cage, entry.file, command, pointer(arg))  # type: ignore[arg-type]
    if command == F.F_GETFD:
        return F.FD_CLOEXEC if entry.cloexec else 0
    if command == F.F_SETFD:
        entry.cloexec = bool(i32(arg) & F.FD_CLOEXEC)
        return 0
    if command == F.F_GETFL:
        return entry.file.status_flags
    if command == F.F_SETFL:
        keep = entry.file.status_flags & ~F.SETFL_MASK
        entry.file.status_flags = keep | (i32(arg) & F.SETFL_MASK)
        return 0
    if command in (F.F_DUPFD, F.F_DUPFD_CLOEXEC):
        return cage.fds.dup(vfd, lowest=i32(arg), cloexec=command == F.F_DUPFD_CLOEXEC)
    if command in (F_SETPIPE_SZ, F_GETPIPE_SZ):
        if not isinstance(entry.file, PipeEnd):
            raise GuestError(EBADF)
        buffer = entry.file.pipe.buffer
        if command == F_GETPIPE_SZ:
            return buffer.capacity
        try:
            return buffer.resize(i32(arg))
        except ValueError:
            raise GuestError(EBUSY if i32(arg) > 0 else EINVAL) from None
    raise GuestError(EINVAL)


F_SETPIPE_SZ = 1031
F_GETPIPE_SZ = 1032
