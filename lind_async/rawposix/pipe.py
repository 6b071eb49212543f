"""Pipes between cages: in-process buffers (no host fds) with POSIX blocking semantics.

The byte rules live in :class:`lind_async.core.pipe.PipeBuffer`; this module adds waiting: a
reader of an empty pipe and a writer of a full one park on the pipe's wait queues (suspending only
their cage), and every transfer wakes the other side. Closing the last writer wakes readers to see
end-of-file; closing the last reader wakes writers to fail with ``EPIPE`` (plus ``SIGPIPE``).
"""

from __future__ import annotations

import itertools
import os
import stat as stat_mod
from typing import TYPE_CHECKING

from lind_async.abi.errno import EAGAIN, EPIPE, GuestError
from lind_async.abi.flags import (
    O_NONBLOCK,
    O_RDONLY,
    O_WRONLY,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
)
from lind_async.core.pipe import PIPE_BUF, PipeBuffer
from lind_async.rawposix.blocking import WaitQueue, block, on_queue
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.readiness import Cancel, Wake

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

SIGPIPE = 13
_READABLE = POLLIN | POLLRDNORM
_WRITABLE = POLLOUT | POLLWRNORM
_PIPE_DEVICE = 0x1234  # a pseudo device number for pipe inodes
_inodes = itertools.count(1)


class Pipe:
    __slots__ = ("buffer", "can_read", "can_write", "inode")

    def __init__(self) -> None:
        self.buffer = PipeBuffer()
        self.can_read = WaitQueue()
        self.can_write = WaitQueue()
        self.inode = next(_inodes)


class PipeEnd(FileOps):
    """The read or the write end of a pipe (one open file description)."""

    __slots__ = ("pipe", "reading")

    def __init__(self, pipe: Pipe, *, reading: bool, status_flags: int = 0) -> None:
        super().__init__((O_RDONLY if reading else O_WRONLY) | status_flags)
        self.pipe = pipe
        self.reading = reading
        if reading:
            pipe.buffer.readers += 1
        else:
            pipe.buffer.writers += 1

    # -- reading ----------------------------------------------------------------------------------
    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        pipe, buffer = self.pipe, self.pipe.buffer
        if not len(view):
            return 0
        n = buffer.read_into(view)
        if n:
            pipe.can_write.wake_all()
            return n
        if buffer.writers == 0:
            return 0
        # Look before every wait, the first included: a writer may have come between the
        # handler's look and this coroutine's first step (the cage can be preempted there),
        # and its wake-up found no one waiting yet.
        return block(lambda: self._read_again(view), on_queue(cage, pipe.can_read),
                     nonblocking=bool(self.status_flags & O_NONBLOCK), look_first=True)

    def _read_again(self, view: memoryview) -> int | None:
        """The read above, as ``blocking.block``'s attempt (``None``: empty, writers left)."""
        pipe, buffer = self.pipe, self.pipe.buffer
        n = buffer.read_into(view)
        if n:
            pipe.can_write.wake_all()
            return n
        return 0 if buffer.writers == 0 else None

    # -- writing ----------------------------------------------------------------------------------
    def write_from(self, cage: CageView, view: memoryview) -> SysResult:
        pipe, buffer = self.pipe, self.pipe.buffer
        if buffer.readers == 0:
            return self._broken(cage)
        total = len(view)
        if not total:
            return 0
        n = buffer.write(view)
        if n:
            pipe.can_read.wake_all()
        if n == total:
            return n
        if self.status_flags & O_NONBLOCK:
            if n:
                return n
            raise GuestError(EAGAIN)
        return self._write_later(cage, view, n)

    async def _write_later(self, cage: CageView, view: memoryview, done: int) -> int:
        # Look before every wait, the first included (see read_into). Not blocking.block: a
        # write makes partial progress and an interruption after some bytes returns their count.
        pipe, buffer = self.pipe, self.pipe.buffer
        while done < len(view):
            if buffer.readers == 0:
                if done:
                    return done
                return self._broken(cage)
            n = buffer.write(view[done:])
            if n:
                done += n
                pipe.can_read.wake_all()
                continue
            try:
                await pipe.can_write.wait(cage)
            except GuestError:
                if done:
                    return done  # interrupted after a partial write: report what went in
                raise
        return done

    def bytes_readable(self) -> int:
        return len(self.pipe.buffer)

    def poll_mask(self) -> int:
        buffer = self.pipe.buffer
        if self.reading:
            mask = _READABLE if buffer.data else 0
            return mask if buffer.writers else mask | POLLHUP
        mask = _WRITABLE if buffer.capacity - len(buffer.data) >= PIPE_BUF else 0
        return mask if buffer.readers else mask | POLLERR

    def watch(self, events: int, wake: Wake) -> Cancel:
        # A reader's readiness changes when data arrives or the last writer goes (can_read); a
        # writer's when room appears or the last reader goes (can_write).
        queue = self.pipe.can_read if self.reading else self.pipe.can_write
        return queue.watchers.add(wake)

    def _broken(self, cage: CageView) -> int:
        cage.post_signal(SIGPIPE)
        raise GuestError(EPIPE)

    # -- the rest ---------------------------------------------------------------------------------
    def stat(self) -> os.stat_result:
        mode = stat_mod.S_IFIFO | 0o600
        return os.stat_result(
            (mode, self.pipe.inode, _PIPE_DEVICE, 1, os.getuid(), os.getgid(), 0, 0, 0, 0),
            {"st_blksize": 4096},
        )

    def release(self) -> None:
        buffer = self.pipe.buffer
        if self.reading:
            buffer.readers -= 1
            self.pipe.can_write.wake_all()
        else:
            buffer.writers -= 1
            self.pipe.can_read.wake_all()


def new_pipe(status_flags: int = 0) -> tuple[PipeEnd, PipeEnd]:
    """A connected (read end, write end) pair."""
    pipe = Pipe()
    return (
        PipeEnd(pipe, reading=True, status_flags=status_flags),
        PipeEnd(pipe, reading=False, status_flags=status_flags),
    )
