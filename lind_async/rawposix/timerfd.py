"""RawPOSIX timerfd: a timer as an open file description, on the event loop (no host fd).

Theory of operation
-------------------
A :class:`TimerFd` keeps its next expiry as an absolute time on its clock (``CLOCK_MONOTONIC``,
``CLOCK_REALTIME``, ``CLOCK_BOOTTIME``) and one ``loop.call_at`` handle for it, the loop time
computed from the clock's distance to the expiry. When the handle fires, every period that has
fully passed counts as an expiration (a late loop loses no ticks), the next expiry is scheduled
for an interval timer, and readers and watchers wake. A read returns the expirations so far as
a ``u64`` and resets them; it waits while there are none. ``TFD_TIMER_CANCEL_ON_SET`` is
accepted (the host's realtime clock is never set from a cage, so it never cancels).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
import time
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, EPERM, GuestError
from lind_async.rawposix.args import i32, pointer
from lind_async.rawposix.blocking import WaitQueue, block, on_queue
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.readiness import Cancel, Wake
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_NS = 1_000_000_000
_U64 = struct.Struct("<Q")
_ITIMERSPEC = struct.Struct(L.ITIMERSPEC.fmt)  # interval sec, nsec, pad; value sec, nsec, pad
_CLOCKS = {
    F.CLOCK_REALTIME: time.CLOCK_REALTIME,
    F.CLOCK_MONOTONIC: time.CLOCK_MONOTONIC,
    F.CLOCK_BOOTTIME: time.CLOCK_BOOTTIME,
}
_ALARM_CLOCKS = (8, 9)  # CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM: need CAP_WAKE_ALARM
_ANON_DEVICE = 0xE
_inodes = itertools.count(1)


def expirations(now: int, deadline: int, interval: int) -> tuple[int, int | None]:
    """Expirations counted at ``now`` for a timer due at ``deadline`` (ns, same clock), and the
    next deadline (``None``: disarmed). ``now < deadline`` counts nothing."""
    if now < deadline:
        return 0, deadline
    if not interval:
        return 1, None
    ticks = 1 + (now - deadline) // interval
    return ticks, deadline + ticks * interval


class TimerFd(FileOps):
    __slots__ = ("changed", "clock", "deadline", "handle", "inode", "interval", "ticks")

    def __init__(self, clock: int, status_flags: int) -> None:
        super().__init__(F.O_RDWR | status_flags)
        self.clock = clock  # host clock id
        self.deadline: int | None = None  # ns on self.clock
        self.interval = 0
        self.ticks = 0
        self.handle: asyncio.TimerHandle | None = None
        self.changed = WaitQueue()
        self.inode = next(_inodes)

    def now(self) -> int:
        return time.clock_gettime_ns(self.clock)

    # -- arming -----------------------------------------------------------------------------------
    def settime(self, value: int, interval: int, *, absolute: bool) -> tuple[int, int]:
        """Arm (``value`` > 0) or disarm; returns the previous (time left, interval)."""
        old = self.gettime()
        self._cancel()
        self.ticks = 0
        self.interval = interval
        if not value:
            self.deadline = None
        else:
            self.deadline = value if absolute else self.now() + value
            self._schedule()
        self.changed.wake_all()
        return old

    def gettime(self) -> tuple[int, int]:
        if self.deadline is None:
            return 0, self.interval
        return max(0, self.deadline - self.now()), self.interval

    def _schedule(self) -> None:
        assert self.deadline is not None
        loop = asyncio.get_running_loop()
        delay = max(0, self.deadline - self.now()) / _NS
        self.handle = loop.call_at(loop.time() + delay, self._fire)

    def _fire(self) -> None:
        self.handle = None
        if self.deadline is None:
            return
        ticks, self.deadline = expirations(self.now(), self.deadline, self.interval)
        if self.deadline is not None:
            self._schedule()
        if ticks:
            self.ticks += ticks
            self.changed.wake_all()

    def _cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    # -- the file ---------------------------------------------------------------------------------
    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        if len(view) < _U64.size:
            raise GuestError(EINVAL)
        if self.ticks:
            return self._take(view)
        return block(lambda: self._take(view) if self.ticks else None,
                     on_queue(cage, self.changed),
                     nonblocking=bool(self.status_flags & F.O_NONBLOCK), look_first=True)

    def _take(self, view: memoryview) -> int:
        _U64.pack_into(view, 0, self.ticks)
        self.ticks = 0
        return _U64.size

    def poll_mask(self) -> int:
        return F.POLLIN | F.POLLRDNORM if self.ticks else 0

    def watch(self, events: int, wake: Wake) -> Cancel:
        return self.changed.watchers.add(wake)

    def stat(self) -> os.stat_result:
        return os.stat_result(
            (0o600, self.inode, _ANON_DEVICE, 1, os.getuid(), os.getgid(), 0, 0, 0, 0),
            {"st_blksize": 4096},
        )

    def release(self) -> None:
        self._cancel()
        self.deadline = None


def _timerfd(cage: CageView, fd: int) -> TimerFd:
    file = cage.fds.file(i32(fd))
    if not isinstance(file, TimerFd):
        raise GuestError(EINVAL)
    return file


def _write_itimerspec(cage: CageView, addr: int, left: int, interval: int) -> None:
    cage.mem.pack(
        _ITIMERSPEC, addr, interval // _NS, interval % _NS, 0, left // _NS, left % _NS, 0
    )


def sys_timerfd_create(cage: CageView, clockid: int, flags: int, *_: int) -> int:
    clock, how = i32(clockid), i32(flags)
    if how & ~(F.TFD_CLOEXEC | F.TFD_NONBLOCK):
        raise GuestError(EINVAL)
    if clock in _ALARM_CLOCKS:
        raise GuestError(EPERM)
    host = _CLOCKS.get(clock)
    if host is None:
        raise GuestError(EINVAL)
    timer = TimerFd(host, how & F.TFD_NONBLOCK)
    return cage.fds.install(timer, cloexec=bool(how & F.TFD_CLOEXEC))


def sys_timerfd_settime(cage: CageView, fd: int, flags: int, new: int, old: int, *_: int) -> int:
    how = i32(flags)
    timer = _timerfd(cage, fd)
    isec, insec, _p1, vsec, vnsec, _p2 = cage.mem.unpack(_ITIMERSPEC, pointer(new))
    if how & ~(F.TFD_TIMER_ABSTIME | F.TFD_TIMER_CANCEL_ON_SET):
        raise GuestError(EINVAL)
    if min(isec, vsec) < 0 or not (0 <= insec < _NS and 0 <= vnsec < _NS):
        raise GuestError(EINVAL)
    if pointer(old):
        cage.mem.check(pointer(old), _ITIMERSPEC.size)
    left, interval = timer.settime(
        int(vsec) * _NS + int(vnsec),
        int(isec) * _NS + int(insec),
        absolute=bool(how & F.TFD_TIMER_ABSTIME),
    )
    if pointer(old):
        _write_itimerspec(cage, pointer(old), left, interval)
    return 0


def sys_timerfd_gettime(cage: CageView, fd: int, curr: int, *_: int) -> int:
    left, interval = _timerfd(cage, fd).gettime()
    _write_itimerspec(cage, pointer(curr), left, interval)
    return 0


ROWS: list[Row] = [
    (nr.SYS_timerfd_create, sys_timerfd_create, Support.FULL, "MONOTONIC REALTIME BOOTTIME"),
    (nr.SYS_timerfd_settime, sys_timerfd_settime, Support.FULL, "ABSTIME; CANCEL_ON_SET inert"),
    (nr.SYS_timerfd_gettime, sys_timerfd_gettime, Support.FULL, ""),
]
