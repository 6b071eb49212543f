"""RawPOSIX eventfd/eventfd2: a 64-bit counter as an open file description (no host fd).

A read takes the whole counter (or 1 with ``EFD_SEMAPHORE``) and waits while it is 0; a write
adds to it and waits while the sum would pass ``2**64 - 2``. Both move exactly 8 bytes
(``EINVAL`` for a shorter buffer). Every change wakes the other side and every watcher.
"""

from __future__ import annotations

import itertools
import os
import struct
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, GuestError
from lind_async.rawposix.args import i32, u32
from lind_async.rawposix.blocking import WaitQueue, block, on_queue
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.readiness import Cancel, Wake
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

MAX_COUNT = 0xFFFFFFFFFFFFFFFE
_U64 = struct.Struct("<Q")
_ANON_DEVICE = 0xE
_inodes = itertools.count(1)


class EventCounter:
    """The counter's rules, without waiting: each operation says whether it happened."""

    __slots__ = ("semaphore", "value")

    def __init__(self, value: int = 0, *, semaphore: bool = False) -> None:
        self.value = value
        self.semaphore = semaphore

    def take(self) -> int | None:
        """What a read returns now, or ``None`` when it must wait (the counter is 0)."""
        if not self.value:
            return None
        taken = 1 if self.semaphore else self.value
        self.value -= taken
        return taken

    def add(self, amount: int) -> bool:
        """Add ``amount`` if the counter stays at most ``MAX_COUNT``; False: must wait."""
        if amount > MAX_COUNT:
            raise GuestError(EINVAL)
        if self.value + amount > MAX_COUNT:
            return False
        self.value += amount
        return True

    def poll_mask(self) -> int:
        mask = F.POLLIN | F.POLLRDNORM if self.value else 0
        return mask | (F.POLLOUT | F.POLLWRNORM if self.value < MAX_COUNT else 0)


class EventFd(FileOps):
    __slots__ = ("counter", "inode", "less", "more")

    def __init__(self, initval: int, flags: int) -> None:
        super().__init__(F.O_RDWR | (flags & F.O_NONBLOCK))
        self.counter = EventCounter(initval, semaphore=bool(flags & F.EFD_SEMAPHORE))
        self.more = WaitQueue()  # the counter grew: readers (and POLLIN watchers) look again
        self.less = WaitQueue()  # it shrank: writers (and POLLOUT watchers) look again
        self.inode = next(_inodes)

    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        if len(view) < _U64.size:
            raise GuestError(EINVAL)
        taken = self.counter.take()
        if taken is not None:
            return self._took(view, taken)
        # Look before every wait, the first included: a write between the handler's look and
        # the waiter's first step woke no one.
        return block(lambda: self._read_again(view), on_queue(cage, self.more),
                     nonblocking=bool(self.status_flags & F.O_NONBLOCK), look_first=True)

    def _read_again(self, view: memoryview) -> int | None:
        taken = self.counter.take()
        return None if taken is None else self._took(view, taken)

    def _took(self, view: memoryview, taken: int) -> int:
        _U64.pack_into(view, 0, taken)
        self.less.wake_all()
        return _U64.size

    def write_from(self, cage: CageView, view: memoryview) -> SysResult:
        if len(view) < _U64.size:
            raise GuestError(EINVAL)
        (amount,) = _U64.unpack_from(view, 0)
        if self.counter.add(amount):
            self.more.wake_all()
            return _U64.size
        return block(lambda: self._write_again(amount), on_queue(cage, self.less),
                     nonblocking=bool(self.status_flags & F.O_NONBLOCK), look_first=True)

    def _write_again(self, amount: int) -> int | None:
        if not self.counter.add(amount):
            return None
        self.more.wake_all()
        return _U64.size

    def poll_mask(self) -> int:
        return self.counter.poll_mask()

    def watch(self, events: int, wake: Wake) -> Cancel:
        # As Linux's wake-ups carry their direction: a read does not re-trigger an
        # edge-triggered EPOLLIN entry, a write does not re-trigger EPOLLOUT.
        if not events & F.POLLOUT:
            return self.more.watchers.add(wake)
        if not events & (F.POLLIN | F.POLLPRI):
            return self.less.watchers.add(wake)
        cancels = (self.more.watchers.add(wake), self.less.watchers.add(wake))

        def cancel() -> None:
            for each in cancels:
                each()

        return cancel

    def stat(self) -> os.stat_result:
        return os.stat_result(
            (0o600, self.inode, _ANON_DEVICE, 1, os.getuid(), os.getgid(), 0, 0, 0, 0),
            {"st_blksize": 4096},
        )


def _create(cage: CageView, initval: int, flags: int) -> int:
    if flags & ~(F.EFD_SEMAPHORE | F.EFD_CLOEXEC | F.EFD_NONBLOCK):
        raise GuestError(EINVAL)
    return cage.fds.install(EventFd(initval, flags), cloexec=bool(flags & F.EFD_CLOEXEC))


def sys_eventfd(cage: CageView, initval: int, *_: int) -> int:
    return _create(cage, u32(initval), 0)


def sys_eventfd2(cage: CageView, initval: int, flags: int, *_: int) -> int:
    return _create(cage, u32(initval), i32(flags))


ROWS: list[Row] = [
    (nr.SYS_eventfd, sys_eventfd, Support.FULL, "in-process counter"),
    (nr.SYS_eventfd2, sys_eventfd2, Support.FULL, "EFD_SEMAPHORE EFD_NONBLOCK EFD_CLOEXEC"),
]
