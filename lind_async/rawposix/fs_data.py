"""RawPOSIX file-data family: sizes (``truncate``, ``ftruncate``, ``fallocate``), sync (``fsync``,
``fdatasync``, ``sync_file_range``) and copies the kernel makes (``copy_file_range``, ``sendfile``).

Names resolve confined as in ``fs_meta.py``; descriptors that wrap a foreign host object change only
where the embedder granted it (``foreign.py``). Calls that may wait for a disk (``fsync``,
``fdatasync``, ``sync_file_range``, ``fallocate``, and large copies) run on the file-I/O worker
pool (``host_file.off_loop``): only the caller waits.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Callable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import (
    EBADF,
    EINVAL,
    EISDIR,
    ENODEV,
    ENOSYS,
    EOPNOTSUPP,
    ESPIPE,
    EXDEV,
    GuestError,
)
from lind_async.rawposix import confine, shm
from lind_async.rawposix.args import i32, i64, pointer, size, u32
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.foreign import check_metadata, is_foreign
from lind_async.rawposix.fs_meta import _cwd_path, _file, _host_fd, _opened
from lind_async.rawposix.host_file import HostFile, off_loop
from lind_async.rawposix.host_stream import HostStream
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_OFF_LOOP_BYTES = 1 << 20  # copies larger than this run on a worker
MAX_RW = 0x7FFFF000
_NO_KERNEL_COPY = (EXDEV, EOPNOTSUPP, ENOSYS)  # copy_file_range cannot: copy by hand


# -- sizes ----------------------------------------------------------------------------------------
def sys_truncate(cage: CageView, path: int, length: int, *_: int) -> int:
    size_ = i64(length)
    if size_ < 0:
        raise GuestError(EINVAL)
    with _opened(cage, _cwd_path(cage, path), check_metadata) as name:
        os.truncate(name, size_)
        shm.file_shrunk(os.stat(name))  # (rawposix/shm.py: no host page past the end)
    return 0


def sys_ftruncate(cage: CageView, fd: int, length: int, *_: int) -> int:
    file = _file(cage, fd)
    size_ = i64(length)
    if size_ < 0:
        raise GuestError(EINVAL)
    if is_foreign(file):
        check_metadata(file)  # granted: the embedder's stream may be truncated as a file
        host = _granted_regular(file)
        os.ftruncate(host, size_)
        shm.file_shrunk(os.fstat(host))
        return 0
    if not isinstance(file, HostFile) or file.status_flags & F.O_PATH:
        raise GuestError(EBADF if isinstance(file, HostFile) else EINVAL)
    if not file.writable() or file.kind != stat_mod.S_IFREG:
        raise GuestError(EINVAL)
    os.ftruncate(file.host_fd, size_)
    shm.file_shrunk(os.fstat(file.host_fd))  # (rawposix/shm.py: no host page past the end)
    return 0


def _granted_regular(file: FileOps) -> int:
    """The host fd of a granted foreign stream that is a regular file open for writing."""
    host = _host_fd(file)
    if host is None or not file.writable() or not stat_mod.S_ISREG(os.fstat(host).st_mode):
        raise GuestError(EINVAL)
    return host


def _regular(cage: CageView, fd: int) -> HostFile:
    file = _file(cage, fd)
    if isinstance(file, HostFile) and file.status_flags & F.O_PATH:
        raise GuestError(EBADF)
    if not isinstance(file, HostFile):
        raise GuestError(ESPIPE if getattr(file, "pipe", None) is not None else ENODEV)
    return file


def sys_fallocate(
    cage: CageView, fd: int, mode: int, offset: int, length: int, *_: int,
) -> SysResult:
    off, count, how = i64(offset), i64(length), i32(mode)
    stream = _file(cage, fd)
    if is_foreign(stream):
        check_metadata(stream)
        if off < 0 or count <= 0:
            raise GuestError(EINVAL)
        if not stream.writable():
            raise GuestError(EBADF)
        host = _granted_regular(stream)
        return off_loop(lambda: confine.fallocate(host, how, off, count))
    file = _regular(cage, fd)
    if off < 0 or count <= 0:
        raise GuestError(EINVAL)
    if not file.writable():
        raise GuestError(EBADF)
    host = file.host_fd
    return off_loop(lambda: confine.fallocate(host, how, off, count))


# -- sync -----------------------------------------------------------------------------------------
def _sync(cage: CageView, fd: int, call: Callable[[int], None]) -> SysResult:
    file = _file(cage, fd)
    if isinstance(file, HostFile) and file.status_flags & F.O_PATH:
        raise GuestError(EBADF)
    if not isinstance(file, HostFile | HostStream):
        raise GuestError(EINVAL)
    host = file.host_fd

    def run() -> int:
        call(host)
        return 0

    return off_loop(run)


def sys_fsync(cage: CageView, fd: int, *_: int) -> SysResult:
    return _sync(cage, fd, os.fsync)


def sys_fdatasync(cage: CageView, fd: int, *_: int) -> SysResult:
    return _sync(cage, fd, os.fdatasync)


def sys_sync_file_range(
    cage: CageView, fd: int, offset: int, nbytes: int, flags: int, *_: int
) -> SysResult:
    off, count, how = i64(offset), i64(nbytes), u32(flags)
    if how & ~7 or off < 0 or count < 0:
        raise GuestError(EINVAL)
    file = _file(cage, fd)
    if not isinstance(file, HostFile):
        raise GuestError(ESPIPE if getattr(file, "pipe", None) is not None else EINVAL)
    host = file.host_fd
    return off_loop(lambda: confine.sync_file_range(host, off, count, how))


# -- copies ---------------------------------------------------------------------------------------
def _offset_arg(cage: CageView, addr: int) -> int | None:
    if not addr:
        return None
    value = i64(cage.mem.read_u64(addr))
    if value < 0:
        raise GuestError(EINVAL)
    return value


def sys_copy_file_range(
    cage: CageView, fd_in: int, off_in: int, fd_out: int, off_out: int, length: int, flags: int
) -> SysResult:
    if u32(flags):
        raise GuestError(EINVAL)
    src, dst = _file(cage, fd_in), _file(cage, fd_out)
    if not src.readable() or not dst.writable():
        raise GuestError(EBADF)
    if dst.status_flags & F.O_APPEND:
        raise GuestError(EBADF)
    if not (isinstance(src, HostFile) and isinstance(dst, HostFile)):
        raise GuestError(EINVAL)
    if src.kind != stat_mod.S_IFREG or dst.kind != stat_mod.S_IFREG:
        raise GuestError(EISDIR if stat_mod.S_IFDIR in (src.kind, dst.kind) else EINVAL)
    in_addr, out_addr = pointer(off_in), pointer(off_out)
    start_in = _offset_arg(cage, in_addr)
    start_out = _offset_arg(cage, out_addr)
    pos_in = src.pos if start_in is None else start_in
    pos_out = dst.pos if start_out is None else start_out
    count = min(size(length), MAX_RW)
    src_fd, dst_fd = src.host_fd, dst.host_fd

    def copy() -> int:
        try:
            return os.copy_file_range(src_fd, dst_fd, count, pos_in, pos_out)
        except OSError as exc:
            if exc.errno not in _NO_KERNEL_COPY:
                raise
            return _copy_by_hand(src_fd, dst_fd, count, pos_in, pos_out)

    def done(n: int) -> int:
        if start_in is None:
            src.pos = pos_in + n
        else:
            cage.mem.write_u64(in_addr, pos_in + n)
        if start_out is None:
            dst.pos = pos_out + n
        else:
            cage.mem.write_u64(out_addr, pos_out + n)
        return n

    if count <= _OFF_LOOP_BYTES:
        return done(copy())
    return _then(off_loop(copy), done)


def _copy_by_hand(src: int, dst: int, count: int, pos_in: int, pos_out: int) -> int:
    done = 0
    while done < count:
        chunk = os.pread(src, min(count - done, 1 << 20), pos_in + done)
        if not chunk:
            break
        written = os.pwrite(dst, chunk, pos_out + done)
        done += written
        if written < len(chunk):
            break
    return done


async def _then(pending: SysResult, after: Callable[[int], int]) -> int:
    n = pending if isinstance(pending, int) else await pending
    return after(n)


def sys_sendfile(
    cage: CageView, out_fd: int, in_fd: int, offset: int, count: int, *_: int
) -> SysResult:
    src, dst = _file(cage, in_fd), _file(cage, out_fd)
    if not src.readable() or not dst.writable():
        raise GuestError(EBADF)
    if not isinstance(src, HostFile) or src.kind != stat_mod.S_IFREG:
        raise GuestError(EINVAL)
    if dst.status_flags & F.O_APPEND:
        raise GuestError(EINVAL)
    off_addr = pointer(offset)
    start = _offset_arg(cage, off_addr)
    pos = src.pos if start is None else start
    total = min(size(count), MAX_RW)

    def finish(n: int) -> int:
        if start is None:
            src.pos = pos + n
        else:
            cage.mem.write_u64(off_addr, pos + n)
        return n

    if isinstance(dst, HostFile) and dst.kind == stat_mod.S_IFREG:
        src_fd, dst_fd, out_pos = src.host_fd, dst.host_fd, dst.pos

        def copy() -> int:
            try:
                return os.copy_file_range(src_fd, dst_fd, total, pos, out_pos)
            except OSError as exc:
                if exc.errno not in (*_NO_KERNEL_COPY, EINVAL):
                    raise
                return _copy_by_hand(src_fd, dst_fd, total, pos, out_pos)

        def advance(n: int) -> int:
            dst.pos = out_pos + n
            return finish(n)

        if total <= _OFF_LOOP_BYTES:
            return advance(copy())
        return _then(off_loop(copy), advance)
    return _then(_send_generic(cage, src, dst, pos, total), finish)


async def _send_generic(cage: CageView, src: HostFile, dst: FileOps, pos: int, total: int) -> int:
    """sendfile to any other kind: read a chunk of the file, write it through the generic path."""
    done = 0
    while done < total:
        buf = bytearray(min(total - done, 65536))
        view = memoryview(buf)
        got = src.pread_into(view, pos + done)
        n = got if isinstance(got, int) else await got
        if n == 0:
            break
        chunk = view[:n]
        sent = 0
        while sent < n:
            try:
                result = dst.write_from(cage, chunk[sent:])
                moved = result if isinstance(result, int) else await result
            except GuestError:
                if done + sent:
                    return done + sent
                raise
            sent += moved
        done += n
    return done


ROWS: list[Row] = [
    (nr.SYS_truncate, sys_truncate, Support.FULL, ""),
    (nr.SYS_ftruncate, sys_ftruncate, Support.FULL, ""),
    (nr.SYS_fallocate, sys_fallocate, Support.FULL, "off the event loop"),
    (nr.SYS_fsync, sys_fsync, Support.FULL, "off the event loop"),
    (nr.SYS_fdatasync, sys_fdatasync, Support.FULL, "off the event loop"),
    (nr.SYS_sync_file_range, sys_sync_file_range, Support.FULL, "off the event loop"),
    (nr.SYS_copy_file_range, sys_copy_file_range, Support.FULL, "large copies off the loop"),
    (nr.SYS_sendfile, sys_sendfile, Support.FULL, "file to any fd kind"),
]
