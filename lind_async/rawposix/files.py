"""Kinds of open file description RawPOSIX hands out, and what each can do.

Every method either completes now (returns an ``int``) or returns an awaitable when it must wait
(``SysResult``); the dispatcher passes either through unchanged. Operations that may wait take the
calling cage, whose signals can interrupt the wait. ``view`` arguments are zero-copy
windows onto guest memory (already bounds-checked): host reads land directly in the cage's memory.
The base class answers every operation as Linux does for a description that cannot do it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import stat as stat_mod
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lind_async.abi.errno import (
    EAGAIN,
    EBADF,
    EINVAL,
    EISDIR,
    ENOTTY,
    EOPNOTSUPP,
    EPIPE,
    ESPIPE,
    GuestError,
)
from lind_async.abi.flags import (
    O_ACCMODE,
    O_APPEND,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_WRONLY,
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
)
from lind_async.core.fdtable import OpenFile
from lind_async.rawposix import locks
from lind_async.rawposix.blocking import retry_io, wait_fd
from lind_async.rawposix.readiness import (
    NO_WATCH,
    Cancel,
    Wake,
    forget_host_fd,
    host_poll_mask,
    watch_host_events,
)

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

SysResult = int | Awaitable[int]


@dataclass(slots=True)
class DirEntry:
    name: bytes
    inode: int
    dtype: int


class FileOps(OpenFile):
    """Base open file description with Linux's answers for unsupported operations."""

    __slots__ = ()
    level_watch: ClassVar[bool] = False  # watch() is the loop's level-triggered host-fd watch

    def readable(self) -> bool:
        return (self.status_flags & O_ACCMODE) != O_WRONLY

    def writable(self) -> bool:
        return (self.status_flags & O_ACCMODE) != O_RDONLY

    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        raise GuestError(EINVAL)

    def write_from(self, cage: CageView, view: memoryview) -> SysResult:
        raise GuestError(EINVAL)

    def pread_into(self, view: memoryview, offset: int) -> SysResult:
        raise GuestError(ESPIPE)

    def pwrite_from(self, view: memoryview, offset: int) -> int:
        raise GuestError(ESPIPE)

    def seek(self, offset: int, whence: int) -> int:
        raise GuestError(ESPIPE)

    def preadv_at(self, views: list[memoryview], offset: int, flags: int) -> SysResult:
        """``preadv2`` at ``offset`` (``flags``: checked ``RWF_*`` bits, ignored by default)."""
        return positional(views, offset, self.pread_into)

    def pwritev_at(self, views: list[memoryview], offset: int, flags: int) -> SysResult:
        """``pwritev2`` at ``offset`` (-1: the file position, only with ``flags``)."""
        if offset == -1:
            raise GuestError(ESPIPE)
        return positional(views, offset, self.pwrite_from)

    def stat(self) -> os.stat_result:
        raise GuestError(EBADF)

    def is_tty(self) -> bool:
        return False

    def winsize(self) -> tuple[int, int, int, int]:
        raise GuestError(ENOTTY)

    def dir_entries(self) -> list[DirEntry]:
        raise GuestError(EBADF)

    def bytes_readable(self) -> int:
        """``FIONREAD``: bytes a read would return now (``ENOTTY`` where Linux has no answer)."""
        raise GuestError(ENOTTY)

    def poll_mask(self) -> int:
        """Readiness now (``POLL*`` bits); see rawposix/readiness.py. Files: always ready."""
        return ALWAYS_READY

    def watch(self, events: int, wake: Wake) -> Cancel:
        """Call ``wake`` when ``poll_mask()`` may have changed for ``events``; returns a cancel."""
        return NO_WATCH

    def lock_key(self) -> tuple[int, int] | None:
        """The file's identity for flock/fcntl locks (host ``st_dev``, ``st_ino``)."""
        try:
            st = self.stat()
        except (GuestError, OSError):
            return None
        return st.st_dev, st.st_ino

    def release(self) -> None:
        """The last descriptor closed: free host resources."""


ALWAYS_READY = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM

Positional = Callable[[memoryview, int], SysResult]


def positional(views: list[memoryview], offset: int, op: Positional) -> SysResult:
    """``op(view, at)`` for each view at increasing offsets, stopping at the first short transfer
    (Linux's count for ``preadv``/``pwritev``). Completes now, or as an awaitable from the first
    transfer that must wait."""
    total = 0
    for index, view in enumerate(views):
        if not len(view):
            continue
        result = op(view, offset + total)
        if result.__class__ is not int:
            return _positional_rest(views, index, offset, total, result, op)  # type: ignore[arg-type]
        moved: int = result
        total += moved
        if moved < len(view):
            break
    return total


async def _positional_rest(
    views: list[memoryview], index: int, offset: int, total: int, pending: Awaitable[int],
    op: Positional,
) -> int:
    moved = await pending
    total += moved
    if moved < len(views[index]):
        return total
    for view in views[index + 1:]:
        if not len(view):
            continue
        result = op(view, offset + total)
        moved = result if isinstance(result, int) else await result
        total += moved
        if moved < len(view):
            break
    return total


class HostFile(FileOps):
    """A regular file, directory or other node inside the root, backed by a host fd.

    Theory of operation: the file offset is kept here (``pos``), not in the host fd, so reads can
    be positional. A read first tries ``preadv(..., RWF_NOWAIT)`` inline: data in the page cache
    comes back at once. When the kernel would have to wait for the disk (``EAGAIN``, or a short
    read that is not the end of the file) the rest of the read runs on a small worker pool while
    only the calling cage waits; the event loop, and every other cage, keep running. Writes are
    positional too (``O_APPEND`` ones go through the host's own append, which is atomic).
    Nodes that are neither regular files nor directories use the host fd's own offset.
    """

    __slots__ = (
        "_dir_cursor", "_dir_snapshot", "_host_append", "_key", "dir_merged", "guest_path",
        "host_fd", "kind", "pos",
    )  # fmt: skip
    level_watch = True

    def __init__(
        self, host_fd: int, status_flags: int, st: os.stat_result | None = None
    ) -> None:
        super().__init__(status_flags)
        self.host_fd = host_fd
        if st is None:
            st = os.fstat(host_fd)
        self.kind = stat_mod.S_IFMT(st.st_mode)
        self._key = (st.st_dev, st.st_ino)
        self.pos = 0
        self._host_append = bool(status_flags & O_APPEND)
        self.guest_path: bytes | None = None  # for *at calls relative to this descriptor
        self._dir_snapshot: list[DirEntry] | None = None
        self._dir_cursor = 0
        self.dir_merged = False  # the snapshot holds the default root's overlaid names too

    def readable(self) -> bool:
        return not self.status_flags & O_PATH and super().readable()

    def writable(self) -> bool:
        return not self.status_flags & O_PATH and super().writable()

    def lock_key(self) -> tuple[int, int] | None:
        return self._key

    # -- reading ------------------------------------------------------------------------------
    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        if self.kind != stat_mod.S_IFREG:
            return self._read_other(cage, view)
        start = self.pos
        result = self.pread_into(view, start)
        if isinstance(result, int):
            self.pos = start + result
            return result
        return self._advance(start, result)

    async def _advance(self, start: int, pending: Awaitable[int]) -> int:
        n = await pending
        self.pos = start + n
        return n

    def pread_into(self, view: memoryview, offset: int) -> SysResult:
        if self.kind != stat_mod.S_IFREG:
            if self.kind == stat_mod.S_IFDIR:
                raise GuestError(EISDIR)
            return os.preadv(self.host_fd, (view,), offset)
        want = len(view)
        try:
            n = os.preadv(self.host_fd, (view,), offset, _RWF_NOWAIT)
        except BlockingIOError:
            return _read_off_loop(self.host_fd, view, offset, 0)
        except OSError as exc:
            if exc.errno != EOPNOTSUPP:
                raise
            return _read_off_loop(self.host_fd, view, offset, 0)
        if n == want or offset + n >= os.fstat(self.host_fd).st_size:
            return n  # all of it, or a short read at the end of the file
        return _read_off_loop(self.host_fd, view, offset, n)  # partly cached: the rest may wait

    def _read_other(self, cage: CageView, view: memoryview) -> SysResult:
        if self.kind == stat_mod.S_IFDIR:
            raise GuestError(EISDIR)
        try:
            return os.readv(self.host_fd, (view,))
        except BlockingIOError:
            if self.status_flags & O_NONBLOCK:
                raise GuestError(EAGAIN) from None
            return retry_io(
                self.host_fd, lambda: os.readv(self.host_fd, (view,)), writable=False, cage=cage
            )

    # -- writing ------------------------------------------------------------------------------
    def write_from(self, cage: CageView, view: memoryview) -> SysResult:
        if self.kind != stat_mod.S_IFREG:
            nonblocking = bool(self.status_flags & O_NONBLOCK)
            return write_host(cage, self.host_fd, view, nonblocking=nonblocking)
        if self.status_flags & O_APPEND:
            self._set_host_append(True)
            n = os.write(self.host_fd, view)
            self.pos = os.lseek(self.host_fd, 0, os.SEEK_CUR)
            return n
        n = self.pwrite_from(view, self.pos)
        self.pos += n
        return n

    def pwrite_from(self, view: memoryview, offset: int) -> int:
        if self._host_append and not self.status_flags & O_APPEND:
            self._set_host_append(False)
        return os.pwritev(self.host_fd, (view,), offset)

    def preadv_at(self, views: list[memoryview], offset: int, flags: int) -> SysResult:
        if not flags or self.kind != stat_mod.S_IFREG:
            return positional(views, offset, self.pread_into)
        try:
            return os.preadv(self.host_fd, views, offset, flags)  # the host judges RWF_*
        except BlockingIOError:
            raise GuestError(EAGAIN) from None

    def pwritev_at(self, views: list[memoryview], offset: int, flags: int) -> SysResult:
        if self.kind != stat_mod.S_IFREG:
            return super().pwritev_at(views, offset, flags)
        self._set_host_append(bool(self.status_flags & O_APPEND))
        at = self.pos if offset == -1 else offset
        try:
            n = os.pwritev(self.host_fd, views, at, flags)
        except BlockingIOError:
            raise GuestError(EAGAIN) from None
        if offset == -1:
            appended = (self.status_flags & O_APPEND or flags & _RWF_APPEND) and not (
                flags & _RWF_NOAPPEND
            )
            self.pos = os.fstat(self.host_fd).st_size if appended else at + n
        return n

    def _set_host_append(self, on: bool) -> None:
        if self._host_append != on:
            flags = fcntl.fcntl(self.host_fd, fcntl.F_GETFL)
            flags = flags | os.O_APPEND if on else flags & ~os.O_APPEND
            fcntl.fcntl(self.host_fd, fcntl.F_SETFL, flags)
            self._host_append = on

    def bytes_readable(self) -> int:
        if self.kind != stat_mod.S_IFREG:
            raise GuestError(ENOTTY)
        return max(0, os.fstat(self.host_fd).st_size - self.pos)

    def seek(self, offset: int, whence: int) -> int:
        if self.status_flags & O_PATH:
            raise GuestError(EBADF)
        if self.kind == stat_mod.S_IFDIR:
            if whence == os.SEEK_CUR and offset == 0:
                return self._dir_cursor
            if whence != os.SEEK_SET or offset < 0:
                raise GuestError(EINVAL)
            self._dir_cursor = offset
            if offset == 0:
                self._dir_snapshot = None  # rewinddir sees a fresh listing
                self.dir_merged = False
            return offset
        if self.kind != stat_mod.S_IFREG:
            return os.lseek(self.host_fd, offset, whence)
        if whence == os.SEEK_SET:
            new = offset
        elif whence == os.SEEK_CUR:
            new = self.pos + offset
        else:  # SEEK_END, SEEK_DATA, SEEK_HOLE: the host knows the size and the holes
            new = os.lseek(self.host_fd, offset, whence)
        if not 0 <= new <= _OFFSET_MAX:
            raise GuestError(EINVAL)
        self.pos = new
        return new

    def stat(self) -> os.stat_result:
        return os.fstat(self.host_fd)

    def dir_entries(self) -> list[DirEntry]:
        """A snapshot of the directory taken at the first read, as a readdir cursor sees it."""
        if self._dir_snapshot is None:
            self._dir_snapshot = _list_dir(self.host_fd)
        return self._dir_snapshot

    def replace_dir_snapshot(self, entries: list[DirEntry]) -> None:
        """The listing a readdir cursor sees from now on (with the overlay's names merged)."""
        self._dir_snapshot = entries
        self.dir_merged = True

    @property
    def dir_cursor(self) -> int:
        return self._dir_cursor

    @dir_cursor.setter
    def dir_cursor(self, value: int) -> None:
        self._dir_cursor = value

    def poll_mask(self) -> int:
        if self.kind in (stat_mod.S_IFREG, stat_mod.S_IFDIR):
            return ALWAYS_READY
        return host_poll_mask(self.host_fd)

    def watch(self, events: int, wake: Wake) -> Cancel:
        if self.kind in (stat_mod.S_IFREG, stat_mod.S_IFDIR):
            return NO_WATCH
        return watch_host_events(self.host_fd, events, wake)

    def release(self) -> None:
        locks.description_released(self)
        if self.kind not in (stat_mod.S_IFREG, stat_mod.S_IFDIR):
            forget_host_fd(self.host_fd)
        os.close(self.host_fd)


_RWF_NOWAIT = getattr(os, "RWF_NOWAIT", 8)
_RWF_APPEND, _RWF_NOAPPEND = 0x10, 0x20
_OFFSET_MAX = (1 << 63) - 1
_IO_WORKERS = 4
_executor: ThreadPoolExecutor | None = None


def io_executor() -> ThreadPoolExecutor:
    """The small worker pool for file I/O that may wait for a disk (never the event loop)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(_IO_WORKERS, thread_name_prefix="lind-file-io")
    return _executor


def _pread_worker(fd: int, length: int, offset: int) -> bytes:
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


async def _read_off_loop(host_fd: int, view: memoryview, offset: int, done: int) -> int:
    """Finish a read of ``view`` at ``offset`` (``done`` bytes already in) on a worker thread.

    The worker reads into its own buffer through its own ``dup`` of the fd (the descriptor may
    be closed, and its number reused, while it works); the bytes reach guest memory on the loop.
    """
    fd = os.dup(host_fd)
    loop = asyncio.get_running_loop()
    data = await loop.run_in_executor(
        io_executor(), _pread_worker, fd, len(view) - done, offset + done
    )
    view[done : done + len(data)] = data
    return done + len(data)


async def off_loop(call: Callable[[], int]) -> int:
    """Run a host call that may wait for a disk (fsync, fallocate, big copies) on a worker."""
    return await asyncio.get_running_loop().run_in_executor(io_executor(), call)


def _list_dir(host_fd: int) -> list[DirEntry]:
    st = os.fstat(host_fd)
    entries = [DirEntry(b".", st.st_ino, 4), DirEntry(b"..", st.st_ino, 4)]
    dup = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=host_fd)
    try:
        with os.scandir(dup) as it:
            for entry in it:
                entries.append(DirEntry(os.fsencode(entry.name), entry.inode(), _dtype(entry)))
    finally:
        os.close(dup)
    return entries


def _dtype(entry: os.DirEntry[str]) -> int:
    if entry.is_symlink():
        return 10  # DT_LNK
    if entry.is_dir(follow_symlinks=False):
        return 4  # DT_DIR
    if entry.is_file(follow_symlinks=False):
        return 8  # DT_REG
    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError:
        return 0
    if stat_mod.S_ISFIFO(mode):
        return 1
    if stat_mod.S_ISCHR(mode):
        return 2
    if stat_mod.S_ISBLK(mode):
        return 6
    if stat_mod.S_ISSOCK(mode):
        return 12
    return 0


def write_host(
    cage: CageView,
    host_fd: int,
    view: memoryview,
    *,
    nonblocking: bool,
    attempt: Callable[[memoryview], int] | None = None,
) -> SysResult:
    """Write ``view`` to a non-blocking host fd (a pipe, tty, FIFO or socket) as Linux's write.

    For a blocking guest description the whole of ``view`` goes out: a host pipe takes 64 KiB at
    a time, so the rest is written as room appears while only the calling cage waits. A signal
    for the cage ends the wait: with ``EINTR`` before any byte moved, else with the count so far
    (as Linux). A non-blocking one gets what the host took now, or ``EAGAIN``. A reader gone is
    ``EPIPE`` plus ``SIGPIPE`` (after a partial write, the count so far). ``attempt`` replaces
    ``os.write`` (a socket's ``send`` with ``MSG_DONTWAIT``)."""
    write = attempt or (lambda part: os.write(host_fd, part))
    try:
        n = write(view)
    except BlockingIOError:
        if nonblocking:
            raise GuestError(EAGAIN) from None
        n = 0
    except BrokenPipeError:
        return _broken_pipe(cage)
    if n == len(view) or nonblocking:
        return n
    return _write_rest(cage, host_fd, view, n, write)


async def _write_rest(
    cage: CageView, host_fd: int, view: memoryview, done: int, write: Callable[[memoryview], int]
) -> int:
    while done < len(view):
        try:
            await wait_fd(host_fd, writable=True, cage=cage)
        except GuestError:
            if done:
                return done  # interrupted after a partial write: report what went out
            raise
        try:
            done += write(view[done:])
        except BlockingIOError:
            continue
        except BrokenPipeError:
            if done:
                return done
            return _broken_pipe(cage)
    return done


def _broken_pipe(cage: CageView) -> int:
    cage.post_signal(SIGPIPE)
    raise GuestError(EPIPE)


SIGPIPE = 13


class HostStream(FileOps):
    """One of the host's stdio streams, used without blocking the loop.

    Pipes, ttys and character devices are reopened through ``/proc/self/fd`` as a *new* open file
    description with ``O_NONBLOCK``, so the host's own stdio flags are never changed. A socket
    cannot be reopened: it is used through a ``dup`` with ``MSG_DONTWAIT`` on every transfer
    (which leaves its flags alone too). Regular files are used as they are (they never block).
    Blocking writes complete fully (:func:`write_host`).
    """

    __slots__ = ("_sock", "_tty", "host_fd", "nonblocking")
    level_watch = True

    def __init__(
        self,
        host_fd: int,
        status_flags: int,
        *,
        nonblocking: bool,
        tty: bool,
        sock: socket.socket | None = None,
    ) -> None:
        super().__init__(status_flags)
        self.host_fd = host_fd
        self.nonblocking = nonblocking
        self._tty = tty
        self._sock = sock

    @classmethod
    def adopt(cls, host_fd: int, status_flags: int) -> HostStream:
        """Wrap the host's fd ``host_fd`` (0, 1 or 2) for cage use."""
        st = os.fstat(host_fd)
        tty = os.isatty(host_fd)
        if stat_mod.S_ISSOCK(st.st_mode):
            sock = socket.socket(fileno=os.dup(host_fd))
            return cls(sock.fileno(), status_flags, nonblocking=True, tty=False, sock=sock)
        if stat_mod.S_ISFIFO(st.st_mode) or stat_mod.S_ISCHR(st.st_mode):
            access = os.O_RDONLY if status_flags & O_ACCMODE == O_RDONLY else os.O_WRONLY
            try:
                fd = os.open(f"/proc/self/fd/{host_fd}", access | os.O_NONBLOCK | os.O_CLOEXEC)
                return cls(fd, status_flags, nonblocking=True, tty=tty)
            except OSError:
                pass
        return cls(os.dup(host_fd), status_flags, nonblocking=False, tty=tty)

    def _read_now(self, view: memoryview) -> int:
        if self._sock is not None:
            return self._sock.recv_into(view, len(view), socket.MSG_DONTWAIT)
        return os.readv(self.host_fd, (view,))

    def _write_now(self, view: memoryview) -> int:
        if self._sock is not None:
            return self._sock.send(view, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        return os.write(self.host_fd, view)

    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        try:
            return self._read_now(view)
        except BlockingIOError:
            if self.status_flags & O_NONBLOCK:
                raise GuestError(EAGAIN) from None
            return retry_io(
                self.host_fd, lambda: self._read_now(view), writable=False, cage=cage
            )

    def write_from(self, cage: CageView, view: memoryview) -> SysResult:
        return write_host(
            cage,
            self.host_fd,
            view,
            nonblocking=bool(self.status_flags & O_NONBLOCK),
            attempt=self._write_now,
        )

    def seek(self, offset: int, whence: int) -> int:
        if self.nonblocking:
            raise GuestError(ESPIPE)
        return os.lseek(self.host_fd, offset, whence)

    def stat(self) -> os.stat_result:
        return os.fstat(self.host_fd)

    def is_tty(self) -> bool:
        return self._tty

    def winsize(self) -> tuple[int, int, int, int]:
        if not self._tty:
            raise GuestError(ENOTTY)
        size = os.get_terminal_size(self.host_fd)
        return size.lines, size.columns, 0, 0

    def poll_mask(self) -> int:
        if not self.nonblocking:
            return ALWAYS_READY
        return host_poll_mask(self.host_fd)

    def watch(self, events: int, wake: Wake) -> Cancel:
        if not self.nonblocking:
            return NO_WATCH
        return watch_host_events(self.host_fd, events, wake)

    def release(self) -> None:
        forget_host_fd(self.host_fd)
        if self._sock is not None:
            self._sock.close()
        else:
            os.close(self.host_fd)


class NullDevice(FileOps):
    """``/dev/null``: reads see EOF, writes vanish."""

    __slots__ = ()

    def read_into(self, cage: CageView, view: memoryview) -> int:
        return 0

    def write_from(self, cage: CageView, view: memoryview) -> int:
        return len(view)

    def pread_into(self, view: memoryview, offset: int) -> int:
        return 0

    def pwrite_from(self, view: memoryview, offset: int) -> int:
        return len(view)

    def seek(self, offset: int, whence: int) -> int:
        return 0

    def stat(self) -> os.stat_result:
        return _char_device_stat(1, 3)


class ZeroDevice(NullDevice):
    """``/dev/zero``: reads see zeros."""

    __slots__ = ()

    def read_into(self, cage: CageView, view: memoryview) -> int:
        return self.pread_into(view, 0)

    def pread_into(self, view: memoryview, offset: int) -> int:
        view[:] = bytes(len(view))
        return len(view)

    def stat(self) -> os.stat_result:
        return _char_device_stat(1, 5)


class RandomDevice(NullDevice):
    """``/dev/urandom`` and ``/dev/random``: reads see host randomness."""

    __slots__ = ()

    def read_into(self, cage: CageView, view: memoryview) -> int:
        return self.pread_into(view, 0)

    def pread_into(self, view: memoryview, offset: int) -> int:
        view[:] = os.urandom(len(view))
        return len(view)

    def stat(self) -> os.stat_result:
        return _char_device_stat(1, 9)


DEVICES: dict[bytes, type[FileOps]] = {
    b"/dev/null": NullDevice,
    b"/dev/zero": ZeroDevice,
    b"/dev/urandom": RandomDevice,
    b"/dev/random": RandomDevice,
}


def _char_device_stat(major: int, minor: int) -> os.stat_result:
    mode = stat_mod.S_IFCHR | 0o666
    rdev = os.makedev(major, minor)
    # st_mode, st_ino, st_dev, st_nlink, st_uid, st_gid, st_size, atime, mtime, ctime + extras
    return os.stat_result((mode, major * 256 + minor, 5, 1, 0, 0, 0, 0, 0, 0), {"st_rdev": rdev})
