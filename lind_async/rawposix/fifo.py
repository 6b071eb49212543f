"""Named pipes (FIFOs): a real node in the root, an in-process pipe between the cages that open it.

Theory of operation
-------------------
``mkfifo`` makes a real FIFO node on the host (so ``stat``/``ls`` see it), but no cage ever does
I/O on a host FIFO: opening the node hands out an end of an in-process :class:`Pipe`
(``rawposix/pipe.py``), one per node, keyed by the node's host identity (``st_dev``, ``st_ino``)
and shared by every cage. The registry entry (and its buffer) goes when the last end closes.

Opening follows Linux ``fifo_open``: the opener counts as a reader (or writer) at once, then a
blocking reader waits until some writer has opened (and vice versa) — it waits for the *count of
opens* on the other side to move, so a writer that came and went still releases it. Only the
opening cage waits; a signal ends the wait with ``EINTR``. ``O_NONBLOCK``: a reader's open always
succeeds, a writer's fails with ``ENXIO`` while no reader exists. ``O_RDWR`` never waits and makes
a description that is both ends at once.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lind_async.abi.errno import EINVAL, ENXIO, GuestError
from lind_async.abi.flags import O_ACCMODE, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY
from lind_async.rawposix import locks
from lind_async.rawposix.blocking import WaitQueue, block, on_queue
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.pipe import Pipe, PipeEnd
from lind_async.rawposix.readiness import Cancel, Wake

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

NodeKey = tuple[int, int]


class Fifo:
    """The shared state of one FIFO node."""

    __slots__ = ("key", "opened", "pipe", "reader_opens", "writer_opens")

    def __init__(self, key: NodeKey) -> None:
        self.key = key
        self.pipe = Pipe()
        self.opened = WaitQueue()  # openers waiting for the other side
        self.reader_opens = 0
        self.writer_opens = 0

    def idle(self) -> bool:
        buffer = self.pipe.buffer
        return buffer.readers == 0 and buffer.writers == 0


_FIFOS: dict[NodeKey, Fifo] = {}


def _forget_if_idle(fifo: Fifo) -> None:
    if fifo.idle() and _FIFOS.get(fifo.key) is fifo:
        del _FIFOS[fifo.key]


class FifoEnd(PipeEnd):
    """One end of a FIFO: a pipe end whose ``stat`` is the node's and whose close may free it."""

    __slots__ = ("fifo", "node_fd")
    releases_locks = True  # release() drops flock/OFD locks itself (rawposix/locks.py)

    def __init__(self, fifo: Fifo, node_fd: int, *, reading: bool, status_flags: int) -> None:
        super().__init__(fifo.pipe, reading=reading, status_flags=status_flags)
        self.status_flags = status_flags  # as opened (the access mode included)
        self.fifo = fifo
        self.node_fd = node_fd  # an O_PATH fd of the node, for fstat/fchmod…

    def stat(self) -> os.stat_result:
        return os.fstat(self.node_fd)

    def lock_key(self) -> tuple[int, int] | None:
        return self.fifo.key

    def release(self) -> None:
        super().release()
        locks.description_released(self)
        os.close(self.node_fd)
        _forget_if_idle(self.fifo)


class FifoBoth(FileOps):
    """``O_RDWR`` on a FIFO: reader and writer at once (never waits to open)."""

    __slots__ = ("fifo", "node_fd", "reader", "writer")
    releases_locks = True

    def __init__(self, fifo: Fifo, node_fd: int, status_flags: int) -> None:
        super().__init__(status_flags)
        self.fifo = fifo
        self.node_fd = node_fd
        self.reader = PipeEnd(fifo.pipe, reading=True)
        self.writer = PipeEnd(fifo.pipe, reading=False)

    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        self.reader.status_flags = self.status_flags
        return self.reader.read_into(cage, view)

    def write_from(self, cage: CageView, view: memoryview) -> SysResult:
        self.writer.status_flags = self.status_flags
        return self.writer.write_from(cage, view)

    def poll_mask(self) -> int:
        return self.reader.poll_mask() | self.writer.poll_mask()

    def watch(self, events: int, wake: Wake) -> Cancel:
        cancels = [self.reader.watch(events, wake), self.writer.watch(events, wake)]

        def cancel() -> None:
            for c in cancels:
                c()

        return cancel

    def stat(self) -> os.stat_result:
        return os.fstat(self.node_fd)

    def lock_key(self) -> tuple[int, int] | None:
        return self.fifo.key

    def release(self) -> None:
        self.reader.release()
        self.writer.release()
        locks.description_released(self)
        os.close(self.node_fd)
        _forget_if_idle(self.fifo)


def open_fifo(cage: CageView, node_fd: int, st: os.stat_result, flags: int) -> SysResult:
    """Open the FIFO node held by ``node_fd`` (an ``O_PATH`` fd this call now owns) and install
    the new description in the cage's table; returns the new descriptor (or an awaitable)."""
    key = (st.st_dev, st.st_ino)
    fifo = _FIFOS.get(key)
    if fifo is None:
        fifo = _FIFOS[key] = Fifo(key)
    access = flags & O_ACCMODE
    if access == O_ACCMODE:  # (Linux's mode 3, neither reading nor writing: no FIFO end)
        os.close(node_fd)
        _forget_if_idle(fifo)
        raise GuestError(EINVAL)
    nonblocking = bool(flags & O_NONBLOCK)
    if access == O_RDWR:
        return _install(cage, FifoBoth(fifo, node_fd, flags), flags)
    if access == O_WRONLY and nonblocking and fifo.pipe.buffer.readers == 0:
        os.close(node_fd)
        _forget_if_idle(fifo)
        raise GuestError(ENXIO)
    reading = access == O_RDONLY
    end = FifoEnd(fifo, node_fd, reading=reading, status_flags=flags)
    seen_other = fifo.writer_opens if reading else fifo.reader_opens
    if reading:
        fifo.reader_opens += 1
    else:
        fifo.writer_opens += 1
    fifo.opened.wake_all()
    buffer = fifo.pipe.buffer
    other_present = buffer.writers if reading else buffer.readers
    if other_present or nonblocking:  # (O_NONBLOCK opens now: never block()'s EAGAIN)
        return _install(cage, end, flags)
    return _open_later(cage, fifo, end, reading, seen_other, flags)


async def _open_later(
    cage: CageView, fifo: Fifo, end: FifoEnd, reading: bool, seen_other: int, flags: int
) -> int:
    def other_opened() -> bool | None:
        return (fifo.writer_opens if reading else fifo.reader_opens) != seen_other or None

    try:  # the end goes if the wait does not end in the other side's open (EINTR)
        await block(other_opened, on_queue(cage, fifo.opened), look_first=True)
    except BaseException:
        end.release()
        raise
    return _install(cage, end, flags)


def _install(cage: CageView, file: FileOps, flags: int) -> int:
    from lind_async.abi.flags import O_CLOEXEC

    file.status_flags = flags & ~O_CLOEXEC & ~0o300 & ~0o1000  # not O_CREAT/O_EXCL/O_TRUNC
    try:
        return cage.fds.install(file, cloexec=bool(flags & O_CLOEXEC))
    except GuestError:
        file.release()
        raise
