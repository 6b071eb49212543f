"""RawPOSIX time family: clocks and sleeps. A sleep suspends only the calling cage."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, GuestError
from lind_async.rawposix import structs
from lind_async.rawposix.args import i32, pointer
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView
    from lind_async.rawposix.table import SysResult

_HOST_CLOCKS = {
    F.CLOCK_REALTIME: time.CLOCK_REALTIME,
    F.CLOCK_MONOTONIC: time.CLOCK_MONOTONIC,
    F.CLOCK_PROCESS_CPUTIME_ID: time.CLOCK_PROCESS_CPUTIME_ID,  # the microvisor's, for now
    F.CLOCK_THREAD_CPUTIME_ID: time.CLOCK_THREAD_CPUTIME_ID,
    F.CLOCK_MONOTONIC_RAW: time.CLOCK_MONOTONIC_RAW,
    F.CLOCK_REALTIME_COARSE: time.CLOCK_REALTIME,
    F.CLOCK_MONOTONIC_COARSE: time.CLOCK_MONOTONIC,
    F.CLOCK_BOOTTIME: time.CLOCK_BOOTTIME,
}
_NS = 1_000_000_000


def _clock(clock_id: int) -> int:
    host = _HOST_CLOCKS.get(i32(clock_id))
    if host is None:
        raise GuestError(EINVAL)
    return host


def sys_clock_gettime(cage: CageView, clock_id: int, tp: int, *_: int) -> int:
    now = time.clock_gettime_ns(_clock(clock_id))
    structs.write_timespec(cage.mem, pointer(tp), now)
    return 0


def sys_clock_getres(cage: CageView, clock_id: int, tp: int, *_: int) -> int:
    res = time.clock_getres(_clock(clock_id))
    if pointer(tp):
        structs.write_timespec(cage.mem, pointer(tp), round(res * _NS))
    return 0


def sys_gettimeofday(cage: CageView, tv: int, tz: int, *_: int) -> int:
    if pointer(tv):
        now = time.clock_gettime_ns(time.CLOCK_REALTIME)
        structs.write_timeval(cage.mem, pointer(tv), now)
    if pointer(tz):
        cage.mem.fill(pointer(tz), 8)
    return 0


async def _sleep(cage: CageView, ns: int, rem: int) -> int:
    """Sleep ``ns`` nanoseconds, suspending only this cage; a signal ends it early with
    ``EINTR`` and the time left written to ``rem`` (when given)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    deadline = loop.time() + ns / _NS
    timer = loop.call_later(max(ns, 0) / _NS, _wake, done)
    try:
        await cage.block_on(done)
    except GuestError:
        if rem:
            left = max(0, round((deadline - loop.time()) * _NS))
            structs.write_timespec(cage.mem, rem, left)
        raise
    finally:
        timer.cancel()
    return 0


def _wake(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def sys_nanosleep(cage: CageView, req: int, rem: int, *_: int) -> SysResult:
    return _sleep(cage, structs.read_timespec(cage.mem, pointer(req)), pointer(rem))


def sys_clock_nanosleep(
    cage: CageView, clock_id: int, flags: int, req: int, rem: int, *_: int
) -> SysResult:
    clock = i32(clock_id)
    if clock == F.CLOCK_THREAD_CPUTIME_ID:
        raise GuestError(EINVAL)
    host = _clock(clock)
    ns = structs.read_timespec(cage.mem, pointer(req))
    if i32(flags) & F.TIMER_ABSTIME:
        return _sleep(cage, ns - time.clock_gettime_ns(host), 0)
    return _sleep(cage, ns, pointer(rem))


ROWS: list[Row] = [
    (nr.SYS_clock_gettime, sys_clock_gettime, Support.FULL, ""),
    (nr.SYS_clock_getres, sys_clock_getres, Support.FULL, ""),
    (nr.SYS_gettimeofday, sys_gettimeofday, Support.FULL, ""),
    (nr.SYS_nanosleep, sys_nanosleep, Support.FULL, "suspends only the calling cage"),
    (nr.SYS_clock_nanosleep, sys_clock_nanosleep, Support.FULL, ""),
]
