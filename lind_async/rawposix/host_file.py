"""A file inside the root as an open file description: :class:`HostFile` over a host fd.

Regular files keep their offset here and read positionally: page-cache hits complete inline
(``RWF_NOWAIT``); reads that would wait for a disk, and other calls that may (``off_loop``), run on
a small worker pool while only the calling cage waits. Directories list through a snapshot taken
at the first read, as a readdir cursor sees it; other nodes (FIFOs, devices) use the host fd's
own offset and readiness.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat as stat_mod
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from lind_async.abi.errno import EAGAIN, EBADF, EINVAL, EISDIR, ENOTTY, EOPNOTSUPP, GuestError
from lind_async.abi.flags import O_APPEND, O_NONBLOCK, O_PATH, reads, writes
from lind_async.rawposix import fastio, locks
from lind_async.rawposix.blocking import block, on_host_fd
from lind_async.rawposix.files import ALWAYS_READY, DirEntry, FileOps, SysResult, positional
from lind_async.rawposix.host_stream import write_host
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


class HostFile(FileOps):
    """A regular file, directory or other node inside the root, backed by a host fd.

    Theory of operation: the file offset is kept here (``pos``), not in the host fd, so reads can
    be positional. A read first tries ``preadv(..., RWF_NOWAIT)`` inline: data in the page cache
    comes back at once. When the kernel would have to wait for the disk (``EAGAIN``, or a short
    read that is not the end of the file) the rest of the read runs on a small worker pool while
    only the calling cage waits; the event loop, and every other cage, keep running. Writes are
    positional too (``O_APPEND`` ones go through the host's own append, which is atomic).
    Nodes that are neither regular files nor directories use the host fd's own offset.

    A regular file's offset lives in its record for the compiled trampoline
    (``rawposix/fastio.py``), which may serve its reads, writes and seeks itself: ``pos`` reads
    and writes it there, and every change of the status flags or of the host fd's append mode
    recomputes which calls the trampoline may take (:meth:`_sync_fast`). The trampoline's own
    ``open`` makes a regular file's description by calling this class, and its ``close`` does
    :meth:`release`'s steps for one (``native/syscall_files.c``): keep the two in step.
    """

    __slots__ = (
        "_dir_cursor", "_dir_snapshot", "_flags", "_host_append", "_key", "_pos", "dir_merged",
        "guest_path", "host_fd", "kind",
    )  # fmt: skip
    level_watch = True

    def __init__(
        self, host_fd: int, status_flags: int, st: os.stat_result | None = None,
        st_mode: int = 0, key: tuple[int, int] | None = None,
    ) -> None:
        """The file's ``st``, else its ``st_mode`` and ``key`` (``(st_dev, st_ino)``), else
        ``fstat``'s."""
        if key is None:
            if st is None:
                st = os.fstat(host_fd)
            st_mode, key = st.st_mode, (st.st_dev, st.st_ino)
        self.refs = 0  # (OpenFile's fields, set here: status_flags is a property below)
        self._flags = status_flags
        self.host_fd = host_fd
        kind = self.kind = st_mode & 0o170000  # S_IFMT
        self._key = key
        self._host_append = status_flags & O_APPEND != 0
        self.guest_path: bytes | None = None  # for *at calls relative to this descriptor
        self._pos = 0
        if kind != _S_IFREG:
            self.fast = 0
            self._dir_snapshot: list[DirEntry] | None = None
            self._dir_cursor = 0
            self.dir_merged = False  # the snapshot holds the default root's overlaid names too
        else:  # (a regular file never reads its directory slots: getdents and seek test kind)
            index = self.fast = _FREE.pop() if _FREE else fastio.new(host_fd)
            if index:  # (fastio.new's and _sync_fast's work, inline)
                _WORDS[2 * index] = 0
                _INTS[4 * index + 2] = host_fd
                ops = 0
                if not status_flags & O_PATH:
                    ops = _OP_SEEK
                    if reads(status_flags):
                        ops |= _OP_READ
                    if writes(status_flags) and not status_flags & O_APPEND:
                        ops |= _OP_WRITE
                _INTS[4 * index + 3] = ops | _KIND_FILE

    # The description's status flags and offset: the trampoline's record follows both.
    @property
    def status_flags(self) -> int:
        return self._flags

    @status_flags.setter
    def status_flags(self, flags: int) -> None:
        self._flags = flags
        if self.fast:
            self._sync_fast()

    @property
    def pos(self) -> int:
        index = self.fast
        return fastio.WORDS[2 * index] if index else self._pos

    @pos.setter
    def pos(self, value: int) -> None:
        index = self.fast
        if index:
            fastio.WORDS[2 * index] = value
        else:
            self._pos = value

    def _sync_fast(self) -> None:
        """Which calls the trampoline may take for this regular file: none with ``O_PATH``;
        reads and positional reads if readable; writes if writable, not ``O_APPEND`` and the
        host fd not in append mode (its ``pwrite`` would append); ``lseek`` but for ``O_PATH``."""
        flags = self._flags
        ops = 0
        if not flags & O_PATH:
            ops = _OP_SEEK
            if reads(flags):
                ops |= _OP_READ
            if writes(flags) and not flags & O_APPEND and not self._host_append:
                ops |= _OP_WRITE
        fastio.INTS[4 * self.fast + 3] = ops | _KIND_FILE

    def readable(self) -> bool:
        flags = self.status_flags
        return not flags & O_PATH and reads(flags)

    def writable(self) -> bool:
        flags = self.status_flags
        return not flags & O_PATH and writes(flags)

    def lock_key(self) -> tuple[int, int] | None:
        return self._key

    # -- reading ------------------------------------------------------------------------------
    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        if self.kind != _S_IFREG:
            return self._read_other(cage, view)
        start = self.pos
        try:  # pread_into's first step, inline: the page-cache hit is the common case
            n = os.preadv(self.host_fd, (view,), start, _RWF_NOWAIT)
        except OSError:
            result = self.pread_into(view, start)  # it tries again, and knows every answer
        else:
            if n == len(view):
                self.pos = start + n
                return n
            result = self._short_read(view, start, n)
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
        if n == want:
            return n
        return self._short_read(view, offset, n)

    def _short_read(self, view: memoryview, offset: int, n: int) -> SysResult:
        """``n`` of ``view``'s bytes came back from the page cache: all there is (the end of
        the file), or the rest may wait for a disk and is read off the loop."""
        if offset + n >= os.fstat(self.host_fd).st_size:
            return n
        return _read_off_loop(self.host_fd, view, offset, n)

    def _read_other(self, cage: CageView, view: memoryview) -> SysResult:
        if self.kind == stat_mod.S_IFDIR:
            raise GuestError(EISDIR)
        fd = self.host_fd
        try:
            return os.readv(fd, (view,))
        except BlockingIOError:
            pass
        return block(lambda: os.readv(fd, (view,)), on_host_fd(cage, fd, writable=False),
                     nonblocking=bool(self.status_flags & O_NONBLOCK))

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
            if self.fast:
                self._sync_fast()

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
        index = self.fast
        if index:  # the offset comes home first: the record may serve another from now on
            self._pos = fastio.WORDS[2 * index]
            self.fast = 0
            _INTS[4 * index + 3] = 0  # (fastio.free, inline)
            _FREE.append(index)
        locks.description_released(self)
        if self.kind not in _PLAIN:
            forget_host_fd(self.host_fd)
        os.close(self.host_fd)


_OP_SEEK, _OP_READ, _OP_WRITE = fastio.OP_SEEK, fastio.OP_READ, fastio.OP_WRITE
_KIND_FILE = fastio.KIND_FILE << 8
_WORDS, _INTS, _FREE = fastio.WORDS, fastio.INTS, fastio.FREE
_PLAIN = (stat_mod.S_IFREG, stat_mod.S_IFDIR)
_RWF_NOWAIT = getattr(os, "RWF_NOWAIT", 8)
_S_IFREG = stat_mod.S_IFREG
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
