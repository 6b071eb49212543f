"""RawPOSIX poll/ppoll/select/pselect6 over every kind of virtual fd.

Theory of operation
-------------------
A call *scans* its descriptors (each open description's ``poll_mask()``, see readiness.py); if
something is ready, or the timeout is zero, it answers at once. Otherwise the cage waits in
:func:`~lind_async.rawposix.readiness.wait_ready` on every description's ``watch`` until one may
have changed, the deadline passes or a signal arrives (``EINTR``), and scans again. The
descriptor array is read once (as Linux copies it in); descriptors are looked up on every scan,
so one closed meanwhile reads ``POLLNVAL`` (poll) or ``EBADF`` (select).

select's bit sets are FD_SETSIZE bits of 32-bit ``long``\\s on wasm32: on a little-endian guest,
bit ``fd`` of the bytes, so a set is one Python ``int``. ppoll/pselect6 run the wait under the
given signal mask (:func:`~lind_async.rawposix.readiness.with_sigmask`) and, as Linux, write the
time left back into the timeout (select too: a timeval; poll's milliseconds are by value).
"""

from __future__ import annotations

import asyncio
import struct
from typing import TYPE_CHECKING

from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EBADF, EINVAL, GuestError
from lind_async.abi.flags import (
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    POLLPRI,
    POLLRDBAND,
    POLLRDNORM,
    POLLWRBAND,
    POLLWRNORM,
)
from lind_async.rawposix.args import i32, i64, pointer, size
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.readiness import wait_ready, with_sigmask
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_POLLFD = struct.Struct(L.POLLFD.fmt)
_REVENTS = struct.Struct("<h")
_REVENTS_AT = L.POLLFD.offset("revents")
_TIMESPEC = struct.Struct(L.TIMESPEC.fmt)
_TIMEVAL = struct.Struct(L.TIMEVAL.fmt)
_SIGSET = struct.Struct(L.KERNEL_SIGSET.fmt)
_SIGMASK_PAIR = struct.Struct(L.PSELECT6_SIGMASK.fmt)
_NS = 1_000_000_000
_US = 1_000_000

# What select counts as ready in each set (Linux fs/select.c POLLIN_SET, POLLOUT_SET, POLLEX_SET).
SELECT_IN = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR
SELECT_OUT = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR
SELECT_EX = POLLPRI
_ALWAYS = POLLERR | POLLHUP


def _file(cage: CageView, fd: int) -> FileOps:
    return cage.fds.file(fd)  # type: ignore[return-value]


def poll_revents(file: FileOps, events: int) -> int:
    """``revents`` of one pollfd: what is ready among ``events`` (errors and hang-ups always)."""
    return file.poll_mask() & (events | _ALWAYS)


# --------------------------------------------------------------------------------------- poll
def _scan_poll(
    cage: CageView, view: memoryview, wanted: list[tuple[int, int]]
) -> tuple[int, list[tuple[FileOps, int]]]:
    """Write every ``revents``; returns how many are non-zero and what to watch."""
    count = 0
    watch: list[tuple[FileOps, int]] = []
    entries = cage.fds
    for i, (fd, events) in enumerate(wanted):
        revents = 0
        if fd >= 0:
            try:
                file: FileOps = entries.file(fd)  # type: ignore[assignment]
            except GuestError:
                revents = POLLNVAL
            else:
                revents = file.poll_mask() & (events | _ALWAYS)
                watch.append((file, events))
        if revents:
            count += 1
        _REVENTS.pack_into(view, i * _POLLFD.size + _REVENTS_AT, revents)
    return count, watch


def _poll(cage: CageView, fds: int, nfds: int, timeout_ns: int | None) -> SysResult:
    n = nfds & 0xFFFFFFFF
    if n > cage.fds.limit:
        raise GuestError(EINVAL)
    view = cage.mem.slice(pointer(fds), n * _POLLFD.size)
    wanted = [
        (fd, events & 0xFFFF) for fd, events, _ in _POLLFD.iter_unpack(view)
    ]
    count, watch = _scan_poll(cage, view, wanted)
    if count or timeout_ns == 0:
        return count
    return _poll_later(cage, fds, n, wanted, watch, _deadline(timeout_ns))


async def _poll_later(
    cage: CageView,
    fds: int,
    n: int,
    wanted: list[tuple[int, int]],
    watch: list[tuple[FileOps, int]],
    deadline: float | None,
) -> int:
    # Not blocking.block: a multiplexer's timeout returns 0 ready descriptors, not an error,
    # and each scan re-arms a different set of watches.
    while True:
        await wait_ready(cage, watch, _left(deadline))
        view = cage.mem.slice(pointer(fds), n * _POLLFD.size)
        count, watch = _scan_poll(cage, view, wanted)
        if count or _expired(deadline):
            return count


def _deadline(timeout_ns: int | None) -> float | None:
    if timeout_ns is None:
        return None
    return asyncio.get_running_loop().time() + timeout_ns / _NS


def _left(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(0.0, deadline - asyncio.get_running_loop().time())


def _expired(deadline: float | None) -> bool:
    return deadline is not None and asyncio.get_running_loop().time() >= deadline


def sys_poll(cage: CageView, fds: int, nfds: int, timeout: int, *_: int) -> SysResult:
    ms = i32(timeout)
    return _poll(cage, fds, nfds, ms * 1_000_000 if ms >= 0 else None)


def _read_sigmask(cage: CageView, addr: int, sigsetsize: int) -> int | None:
    if not addr:
        return None
    if sigsetsize != _SIGSET.size:
        raise GuestError(EINVAL)
    (mask,) = cage.mem.unpack(_SIGSET, addr)
    return int(mask)


def _read_timespec(cage: CageView, addr: int) -> int | None:
    """A relative timeout as nanoseconds; ``None`` for a null pointer (forever)."""
    if not addr:
        return None
    sec, nsec, _pad = cage.mem.unpack(_TIMESPEC, addr)
    if sec < 0 or not 0 <= nsec < _NS:
        raise GuestError(EINVAL)
    return int(sec) * _NS + int(nsec)


def _write_left(cage: CageView, addr: int, deadline: float | None, *, timeval: bool) -> None:
    """Linux writes the time left back into a select/pselect6/ppoll timeout (failures ignored)."""
    if not addr or deadline is None:
        return
    ns = round((_left(deadline) or 0.0) * _NS)
    try:
        if timeval:
            cage.mem.pack(_TIMEVAL, addr, ns // _NS, (ns % _NS) // 1000)
        else:
            cage.mem.pack(_TIMESPEC, addr, ns // _NS, ns % _NS, 0)
    except GuestError:
        pass


async def _timed(
    cage: CageView, ts_addr: int, timeval: bool, timeout_ns: int, work: SysResult,
) -> int:
    """Finish ``work``, then write the time left to the timeout at ``ts_addr``."""
    deadline = _deadline(timeout_ns) if timeout_ns else None
    try:
        return work if isinstance(work, int) else await work
    finally:
        _write_left(cage, ts_addr, deadline, timeval=timeval)


def sys_ppoll(
    cage: CageView, fds: int, nfds: int, tsp: int, sigmask: int, sigsetsize: int, *_: int
) -> SysResult:
    timeout_ns = _read_timespec(cage, pointer(tsp))
    mask = _read_sigmask(cage, pointer(sigmask), size(sigsetsize))
    if mask is None and timeout_ns is None:
        return _poll(cage, fds, nfds, None)
    if mask is None:
        result = _poll(cage, fds, nfds, timeout_ns)
        if isinstance(result, int):
            return result
    else:
        result = _masked_poll(cage, fds, nfds, timeout_ns, mask)
    return _timed(cage, pointer(tsp), False, timeout_ns or 0, result)


async def _masked_poll(
    cage: CageView, fds: int, nfds: int, timeout_ns: int | None, mask: int
) -> int:
    async def work() -> int:
        result = _poll(cage, fds, nfds, timeout_ns)
        return result if isinstance(result, int) else await result

    return await with_sigmask(cage, mask, nr.SYS_ppoll, work())


# ------------------------------------------------------------------------------------- select
class _Sets:
    """The three select sets of ``n`` descriptors, as ints (bit ``fd``)."""

    __slots__ = ("addrs", "n", "nbytes", "sets")

    def __init__(self, cage: CageView, n: int, addrs: tuple[int, int, int]) -> None:
        self.n = n
        self.nbytes = (n + 31) // 32 * 4  # whole 32-bit longs, as the guest's fd_set has
        self.addrs = addrs
        limit = (1 << n) - 1
        self.sets = [
            int.from_bytes(cage.mem.read(a, self.nbytes), "little") & limit if a else 0
            for a in addrs
        ]

    def write(self, cage: CageView, results: list[int]) -> None:
        for addr, bits in zip(self.addrs, results, strict=True):
            if addr:
                cage.mem.write(addr, bits.to_bytes(self.nbytes, "little"))


def fd_set_bits(bits: int) -> list[int]:
    """The descriptors whose bits are set, lowest first."""
    fds = []
    while bits:
        low = bits & -bits
        fds.append(low.bit_length() - 1)
        bits ^= low
    return fds


def _scan_select(
    cage: CageView, sets: _Sets
) -> tuple[int, list[int], list[tuple[FileOps, int]]]:
    rset, wset, xset = sets.sets
    results = [0, 0, 0]
    count = 0
    watch: list[tuple[FileOps, int]] = []
    for fd in fd_set_bits(rset | wset | xset):
        try:
            file = _file(cage, fd)
        except GuestError:
            raise GuestError(EBADF) from None
        fd_bit = 1 << fd
        events = (
            (POLLIN if rset & fd_bit else 0)
            | (POLLOUT if wset & fd_bit else 0)
            | (POLLPRI if xset & fd_bit else 0)
        )
        mask = file.poll_mask()
        for i, (chosen, ready_bits) in enumerate(
            ((rset, SELECT_IN), (wset, SELECT_OUT), (xset, SELECT_EX))
        ):
            if chosen & fd_bit and mask & ready_bits:
                results[i] |= fd_bit
                count += 1
        watch.append((file, events))
    return count, results, watch


def _select(
    cage: CageView, nfds: int, addrs: tuple[int, int, int], timeout_ns: int | None
) -> SysResult:
    n = i32(nfds)
    if n < 0:
        raise GuestError(EINVAL)
    n = min(n, cage.fds.limit)
    sets = _Sets(cage, n, addrs)
    count, results, watch = _scan_select(cage, sets)
    if count or timeout_ns == 0:
        sets.write(cage, results)
        return count
    return _select_later(cage, sets, watch, _deadline(timeout_ns))


async def _select_later(
    cage: CageView, sets: _Sets, watch: list[tuple[FileOps, int]], deadline: float | None
) -> int:
    while True:  # (not blocking.block: see _poll_later)
        await wait_ready(cage, watch, _left(deadline))
        count, results, watch = _scan_select(cage, sets)
        if count or _expired(deadline):
            sets.write(cage, results)
            return count


def sys_select(
    cage: CageView, nfds: int, readfds: int, writefds: int, exceptfds: int, tvp: int, *_: int
) -> SysResult:
    addrs = (pointer(readfds), pointer(writefds), pointer(exceptfds))
    tv = pointer(tvp)
    timeout_ns: int | None = None
    if tv:
        sec, usec = (int(v) for v in cage.mem.unpack(_TIMEVAL, tv))
        if sec < 0 or usec < 0:
            raise GuestError(EINVAL)
        sec, usec = sec + usec // _US, usec % _US
        timeout_ns = sec * _NS + usec * 1000
    result = _select(cage, nfds, addrs, timeout_ns)
    if isinstance(result, int) and not timeout_ns:
        return result
    return _timed(cage, tv, True, timeout_ns or 0, result)


def sys_pselect6(
    cage: CageView, nfds: int, readfds: int, writefds: int, exceptfds: int, tsp: int, sig: int
) -> SysResult:
    addrs = (pointer(readfds), pointer(writefds), pointer(exceptfds))
    timeout_ns = _read_timespec(cage, pointer(tsp))
    mask = None
    if pointer(sig):
        ss, ss_len = cage.mem.unpack(_SIGMASK_PAIR, pointer(sig))
        mask = _read_sigmask(cage, pointer(int(ss)), i64(int(ss_len)))
    if mask is None:
        result = _select(cage, nfds, addrs, timeout_ns)
        if isinstance(result, int) and not timeout_ns:
            return result
    else:
        result = _masked_select(cage, nfds, addrs, timeout_ns, mask)
    return _timed(cage, pointer(tsp), False, timeout_ns or 0, result)


async def _masked_select(
    cage: CageView, nfds: int, addrs: tuple[int, int, int], timeout_ns: int | None, mask: int
) -> int:
    async def work() -> int:
        result = _select(cage, nfds, addrs, timeout_ns)
        return result if isinstance(result, int) else await result

    return await with_sigmask(cage, mask, nr.SYS_pselect6, work())


ROWS: list[Row] = [
    (nr.SYS_poll, sys_poll, Support.FULL, "every virtual fd kind"),
    (nr.SYS_ppoll, sys_ppoll, Support.FULL, "sigmask for the wait; time left written back"),
    (nr.SYS_select, sys_select, Support.FULL, "time left written back"),
    (nr.SYS_pselect6, sys_pselect6, Support.FULL, "sigmask for the wait; time left written back"),
]
