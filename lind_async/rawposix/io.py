"""RawPOSIX I/O family: read/write (vectored, positional), lseek, close, ioctl, fcntl.

Handler shape (as every family): decode args → look up the fd (EBADF) → validate (EINVAL) →
bounds-check the guest buffer (EFAULT) → do the work, inline or as an awaitable.

Vectored positional calls (``preadv``/``pwritev``/``preadv2``/``pwritev2``) take the offset as
lind-musl passes it on wasm32, two slots ``(long)ofs, (long)(ofs >> 32)`` (:func:`split_offset`),
move the iovecs one by one at increasing offsets and stop at the first short transfer, so the
count is what Linux returns. ``preadv2``/``pwritev2`` with offset -1 use and advance the file
position (as ``readv``/``writev``); their ``RWF_*`` flags go to the host for a regular file
(which answers ``EOPNOTSUPP`` for what its kernel or filesystem lacks), and are otherwise checked
and ignored but for ``RWF_NOWAIT``.
"""

from __future__ import annotations

import stat as stat_mod
from collections.abc import Callable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EBADF, EBUSY, EINVAL, ENOTTY, EOPNOTSUPP, GuestError
from lind_async.memory import pointers
from lind_async.rawposix import locks, sigio, sock_ioctl
from lind_async.rawposix.args import i32, i64, pointer, size
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.host_file import HostFile
from lind_async.rawposix.pipe import PipeEnd
from lind_async.rawposix.sock_base import Socket
from lind_async.rawposix.structs import WINSIZE
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

IOV_MAX = 1024
MAX_RW = 0x7FFFF000  # Linux caps a single transfer at this many bytes


def _file(cage: CageView, fd: int) -> FileOps:
    return cage.fds.file(i32(fd))  # type: ignore[return-value]


# ``read`` and ``write`` are the hottest calls: each is written out in as few Python calls as
# the checks allow (an fd is a C int: its slot's low 32 bits name it, and no descriptor is numbered
# at 2**31 or above, so the unsigned low half finds exactly what ``i32`` would).
def sys_read(cage: CageView, fd: int, buf: int, count: int, a4: int = 0, a5: int = 0,
             a6: int = 0) -> SysResult:  # (named slots: no tuple for a *rest on every call)
    file: FileOps = cage.fds.file(fd & 0xFFFFFFFF)  # type: ignore[assignment]
    if not file.readable():
        raise GuestError(EBADF)
    return file.read_into(cage, cage.mem.buffer(buf, count, MAX_RW))


def sys_write(cage: CageView, fd: int, buf: int, count: int, a4: int = 0, a5: int = 0,
              a6: int = 0) -> SysResult:
    file: FileOps = cage.fds.file(fd & 0xFFFFFFFF)  # type: ignore[assignment]
    if not file.writable():
        raise GuestError(EBADF)
    return file.write_from(cage, cage.mem.buffer(buf, count, MAX_RW))


def _iovecs(cage: CageView, iov: int, iovcnt: int) -> list[memoryview]:
    return pointers.iovecs(cage.mem, pointer(iov), i32(iovcnt), limit=IOV_MAX, too_many=EINVAL,
                           max_total=MAX_RW)


Transfer = Callable[["CageView", memoryview], SysResult]


def _transfer_all(cage: CageView, views: list[memoryview], op: Transfer) -> SysResult:
    """Move data view by view, stopping at the first short transfer (as Linux readv/writev).

    Only the first transfer may wait: once some bytes have moved, a would-block ends the call
    with the count so far (a short transfer, which POSIX allows).
    """
    total = 0
    for view in views:
        if not len(view):
            continue
        try:
            result = op(cage, view)
        except GuestError:
            if total:
                return total  # EAGAIN (or any error) after some bytes moved: a short transfer
            raise
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


def sys_readv(cage: CageView, fd: int, iov: int, iovcnt: int, *_: int) -> SysResult:
    file = _file(cage, fd)
    if not file.readable():
        raise GuestError(EBADF)
    return _transfer_all(cage, _iovecs(cage, iov, iovcnt), file.read_into)


def sys_writev(cage: CageView, fd: int, iov: int, iovcnt: int, *_: int) -> SysResult:
    file = _file(cage, fd)
    if not file.writable():
        raise GuestError(EBADF)
    return _transfer_all(cage, _iovecs(cage, iov, iovcnt), file.write_from)


RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, RWF_APPEND = 0x02, 0x04, 0x08, 0x10
_RWF_KNOWN = 0x1FF  # HIPRI DSYNC SYNC NOWAIT APPEND NOAPPEND ATOMIC DONTCACHE NOSIGNAL


def split_offset(pos_l: int, pos_h: int) -> int:
    """The 64-bit offset of a ``preadv``-like call from its two slots. lind-musl passes
    ``(long)ofs`` and ``(long)(ofs >> 32)``, 32-bit longs widened with their sign; a caller that
    puts the whole offset in the first slot (the x86_64 kernel's reading) is understood too."""
    low = i64(pos_l)
    if not -(1 << 31) <= low < 1 << 31:
        return low
    return (low & 0xFFFFFFFF) | (i32(pos_h) << 32)


def _rw_flags(flags: int) -> int:
    rwf = i32(flags)
    if rwf & ~_RWF_KNOWN:
        raise GuestError(EOPNOTSUPP)
    return rwf


def _preadv(cage: CageView, fd: int, iov: int, iovcnt: int, offset: int, flags: int,
            *, current_ok: bool) -> SysResult:
    file = _file(cage, fd)
    if not file.readable():
        raise GuestError(EBADF)
    views = _iovecs(cage, iov, iovcnt)
    if offset == -1 and current_ok:
        if flags & RWF_NOWAIT:
            return _read_nowait(cage, file, views, flags)
        return _transfer_all(cage, views, file.read_into)
    if offset < 0:
        raise GuestError(EINVAL)
    if not any(len(view) for view in views):
        file.pread_into(memoryview(bytearray(0)), offset)  # ESPIPE, EISDIR… as Linux
        return 0
    return file.preadv_at(views, offset, flags)


def _pwritev(cage: CageView, fd: int, iov: int, iovcnt: int, offset: int, flags: int,
             *, current_ok: bool) -> SysResult:
    file = _file(cage, fd)
    if not file.writable():
        raise GuestError(EBADF)
    views = _iovecs(cage, iov, iovcnt)
    if offset == -1 and current_ok:
        if flags:
            return file.pwritev_at(views, -1, flags)
        return _transfer_all(cage, views, file.write_from)
    if offset < 0:
        raise GuestError(EINVAL)
    if not any(len(view) for view in views):
        file.pwrite_from(memoryview(bytearray(0)), offset)
        return 0
    return file.pwritev_at(views, offset, flags)


def _read_nowait(cage: CageView, file: FileOps, views: list[memoryview], flags: int) -> SysResult:
    """``preadv2(fd, …, -1, RWF_NOWAIT)``: what can be read now from the file position."""
    if isinstance(file, HostFile) and file.kind == stat_mod.S_IFREG:
        n = file.preadv_at(views, file.pos, flags)
        assert isinstance(n, int)
        file.pos += n
        return n
    saved = file.status_flags
    file.status_flags = saved | F.O_NONBLOCK
    try:
        return _transfer_all(cage, views, file.read_into)
    finally:
        file.status_flags = saved


def sys_preadv(cage: CageView, fd: int, iov: int, iovcnt: int, pos_l: int, pos_h: int,
               *_: int) -> SysResult:
    offset = split_offset(pos_l, pos_h)
    return _preadv(cage, fd, iov, iovcnt, offset, 0, current_ok=False)


def sys_pwritev(cage: CageView, fd: int, iov: int, iovcnt: int, pos_l: int, pos_h: int,
                *_: int) -> SysResult:
    offset = split_offset(pos_l, pos_h)
    return _pwritev(cage, fd, iov, iovcnt, offset, 0, current_ok=False)


def sys_preadv2(cage: CageView, fd: int, iov: int, iovcnt: int, pos_l: int, pos_h: int,
                flags: int) -> SysResult:
    rwf = _rw_flags(flags)
    return _preadv(cage, fd, iov, iovcnt, split_offset(pos_l, pos_h), rwf, current_ok=True)


def sys_pwritev2(cage: CageView, fd: int, iov: int, iovcnt: int, pos_l: int, pos_h: int,
                 flags: int) -> SysResult:
    rwf = _rw_flags(flags)
    return _pwritev(cage, fd, iov, iovcnt, split_offset(pos_l, pos_h), rwf, current_ok=True)


def sys_pread64(cage: CageView, fd: int, buf: int, count: int, offset: int, *_: int) -> SysResult:
    file = _file(cage, fd)
    if not file.readable():
        raise GuestError(EBADF)
    off = i64(offset)
    if off < 0:
        raise GuestError(EINVAL)
    return file.pread_into(cage.mem.slice(pointer(buf), min(size(count), MAX_RW)), off)


def sys_pwrite64(cage: CageView, fd: int, buf: int, count: int, offset: int, *_: int) -> int:
    file = _file(cage, fd)
    if not file.writable():
        raise GuestError(EBADF)
    off = i64(offset)
    if off < 0:
        raise GuestError(EINVAL)
    return file.pwrite_from(cage.mem.slice(pointer(buf), min(size(count), MAX_RW)), off)


def sys_lseek(cage: CageView, fd: int, offset: int, whence: int, *_: int) -> int:
    file = _file(cage, fd)
    how = i32(whence)
    if how not in (F.SEEK_SET, F.SEEK_CUR, F.SEEK_END, 3, 4):  # SEEK_DATA, SEEK_HOLE
        raise GuestError(EINVAL)
    return file.seek(i64(offset), how)


def sys_close(cage: CageView, fd: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0,
              a6: int = 0) -> int:
    file: FileOps = cage.fds.remove(fd & 0xFFFFFFFF)  # type: ignore[assignment]
    # (as read/write: no descriptor is numbered at 2**31 or above, so the low half finds it)
    locks.fd_closing(cage, file)  # the cage's record locks on the file go (POSIX)
    if file.refs == 0:
        file.release()
    return 0


def sys_ioctl(cage: CageView, fd: int, request: int, arg: int, *_: int) -> int:
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
    if req == sigio.FIOASYNC:
        return sigio.fioasync(cage, i32(fd), file, arg)
    if req == F.FIONBIO:
        on = cage.mem.read_u32(pointer(arg))
        file.status_flags = (
            (file.status_flags | F.O_NONBLOCK) if on else (file.status_flags & ~F.O_NONBLOCK)
        )
        return 0
    if req in sock_ioctl.REQUESTS and isinstance(file, Socket):
        return sock_ioctl.socket_ioctl(cage, req, arg)
    raise GuestError(ENOTTY)


def sys_fcntl(cage: CageView, fd: int, cmd: int, arg: int, *_: int) -> SysResult:
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
        file = entry.file
        was_async = file.status_flags & F.O_ASYNC
        file.status_flags = (file.status_flags & ~F.SETFL_MASK) | (i32(arg) & F.SETFL_MASK)
        if file.status_flags & F.O_ASYNC != was_async:
            sigio.set_async(cage, vfd, file, not was_async)  # type: ignore[arg-type]
        return 0
    if command in sigio.COMMANDS:
        return sigio.fcntl(cage, entry.file, command, arg)  # type: ignore[arg-type]
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


ROWS: list[Row] = [
    (nr.SYS_read, sys_read, Support.FULL, ""),
    (nr.SYS_write, sys_write, Support.FULL, ""),
    (nr.SYS_readv, sys_readv, Support.FULL, ""),
    (nr.SYS_writev, sys_writev, Support.FULL, ""),
    (nr.SYS_pread64, sys_pread64, Support.FULL, ""),
    (nr.SYS_pwrite64, sys_pwrite64, Support.FULL, ""),
    (nr.SYS_lseek, sys_lseek, Support.FULL, ""),
    (nr.SYS_close, sys_close, Support.FULL, ""),
    (nr.SYS_ioctl, sys_ioctl, Support.PARTIAL,
     "TIOCGWINSZ, TCGETS (tty probe), FIONBIO, FIOASYNC, SIOCGIF*"),
    (nr.SYS_fcntl, sys_fcntl, Support.PARTIAL,
     "FD/FL (O_ASYNC), DUPFD, PIPE_SZ, [OFD_]GETLK/SETLK[W], SETOWN[_EX]/SETSIG (sigio.py)"),
    (nr.SYS_preadv, sys_preadv, Support.FULL, ""),
    (nr.SYS_pwritev, sys_pwritev, Support.FULL, ""),
    (nr.SYS_preadv2, sys_preadv2, Support.FULL, "offset -1: the file position; RWF_* flags"),
    (nr.SYS_pwritev2, sys_pwritev2, Support.FULL, "offset -1: the file position; RWF_* flags"),
]
