"""``RootPool``: empty root directories for running a cage per request, each in a clean ``/``.

Theory of operation
-------------------
A service that runs an untrusted program per request gives each run a root of its own that
starts empty, so no run sees another's files. Making a directory per request is not enough:
a microvisor keeps every root it has seen (a world, a directory fd) until it closes. So a pool
of ``count`` roots is made once and reused: :meth:`RootPool.take` hands out a free one (waiting
while all are taken, which also bounds how many runs go at once), :meth:`RootPool.give_back`
empties it if the run left anything and puts it back.

Knowing whether a run left anything costs a look at the directory (a ``stat`` and a
``scandir``: ~15-20 us a request). With inotify it costs nothing: one inotify fd watches every
root for names appearing in it (``IN_CREATE``, ``IN_MOVED_TO``) and for changes to the root
itself (``IN_ATTRIB``: its mode; ``IN_DELETE_SELF``, ``IN_MOVE_SELF``). A root starts empty, so
anything a run left under it, at any depth, began with a name created in the root itself. The
kernel queues an event inside the system call that made the change, so once the run's cages
are gone every change is in the queue; :meth:`give_back` reads what is queued (one
non-blocking ``read``, usually empty) and empties only the roots with events. A queue overflow
marks every root changed; a root's own events from being emptied are read before it goes back.
Without inotify (no such call, no watches left) the look at the directory is used.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import fcntl
import os
import shutil
import stat
import struct
import termios
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.to_thread

_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_IN_ATTRIB, _IN_MOVED_TO, _IN_CREATE = 0x4, 0x80, 0x100
_IN_DELETE_SELF, _IN_MOVE_SELF = 0x400, 0x800
_IN_Q_OVERFLOW = 0x4000
_MASK = _IN_ATTRIB | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE_SELF | _IN_MOVE_SELF
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


class _Watch:
    """One inotify fd watching every root; which roots have had events."""

    def __init__(self, roots: list[str]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.fd: int | None = fd
        self.roots: dict[int, str] = {}
        self.changed: set[str] = set()
        self._queued = array.array("i", [0])
        try:
            for root in roots:
                wd = libc.inotify_add_watch(fd, os.fsencode(root), _MASK)
                if wd < 0:
                    raise OSError(ctypes.get_errno(), f"inotify_add_watch {root}")
                self.roots[wd] = root
        except BaseException:
            self.close()
            raise

    def read(self) -> None:
        """Note the roots that have events queued."""
        while self.fd is not None:
            # How many bytes are queued (no read, and no exception, when none: the common case
            # of a run that left nothing)
            fcntl.ioctl(self.fd, termios.FIONREAD, self._queued)
            if not self._queued[0]:
                return
            try:
                data = os.read(self.fd, max(self._queued[0], 1 << 16))
            except BlockingIOError:
                return
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + length
                root = self.roots.get(wd)
                if mask & _IN_Q_OVERFLOW:
                    self.changed.update(self.roots.values())
                elif root is not None:
                    self.changed.add(root)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class RootPool:
    """``count`` empty directories under ``base`` (made here, mode 0700), handed out one run at a
    time: ``async with pool.root() as root:`` (or :meth:`take` / :meth:`give_back`). Works on
    asyncio, uvloop and trio. :meth:`close` stops watching; removing ``base`` is the caller's."""

    def __init__(self, base: str | os.PathLike[str], count: int) -> None:
        if count < 1:
            raise ValueError("a RootPool needs at least one root")
        self._free: list[str] = []
        for i in range(count):
            path = Path(base) / f"root{i}"
            path.mkdir(mode=0o700)
            self._free.append(os.path.realpath(path))
        self._slots = anyio.Semaphore(count)
        self._watch: _Watch | None = None
        with contextlib.suppress(OSError):
            self._watch = _Watch(list(self._free))

    @property
    def watched(self) -> bool:
        """Whether inotify says which roots changed (else each is looked at)."""
        return self._watch is not None

    async def take(self) -> str:
        """A free root (its real path), empty; waits while every root is taken."""
        try:
            self._slots.acquire_nowait()  # (no checkpoint: no loop round trip when one is free)
        except anyio.WouldBlock:
            await self._slots.acquire()
        return self._free.pop()

    async def give_back(self, root: str) -> None:
        """Put ``root`` back, emptied first if the run left anything in it. Call it once the
        cages that ran there are gone."""
        try:
            if self._changed(root):
                await anyio.to_thread.run_sync(empty, root)
                if self._watch is not None:
                    self._watch.read()  # (the emptying's own events)
                    self._watch.changed.discard(root)
        finally:
            self._free.append(root)
            self._slots.release()

    @contextlib.asynccontextmanager
    async def root(self) -> AsyncIterator[str]:
        root = await self.take()
        try:
            yield root
        finally:
            await self.give_back(root)

    def _changed(self, root: str) -> bool:
        watch = self._watch
        if watch is None:
            return not is_clean(root)
        watch.read()
        return root in watch.changed

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None


def is_clean(root: str) -> bool:
    """Whether ``root`` is as a pool makes it: empty, mode 0700 (two system calls)."""
    try:
        if os.stat(root).st_mode & 0o7777 != 0o700:
            return False
        with os.scandir(root) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def empty(root: str) -> None:
    """Remove everything in ``root`` (whatever permissions a cage set) and make it 0700 again."""
    os.chmod(root, 0o700)
    for entry in os.scandir(root):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, onerror=force_remove)
        else:
            os.unlink(entry.path)


def force_remove(func: object, path: str, _exc: object) -> None:
    """``shutil.rmtree``'s error hook: a cage may have left a directory without write or search
    permission."""
    parent = os.path.dirname(path)
    with contextlib.suppress(OSError):
        os.chmod(parent, stat.S_IRWXU)
    with contextlib.suppress(OSError):
        os.chmod(path, stat.S_IRWXU)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, onerror=force_remove)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
