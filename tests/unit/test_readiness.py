"""Pure parts of the readiness calls: epoll's interest and ready lists over fake descriptions,
select's bit sets, the eventfd counter, timerfd expiration arithmetic, host-fd watches."""

from __future__ import annotations

import asyncio
import gc
import os

import pytest

from lind_async.abi import flags as F
from lind_async.abi.errno import EINVAL, GuestError
from lind_async.rawposix.epoll import Epoll
from lind_async.rawposix.eventfd import MAX_COUNT, EventCounter
from lind_async.rawposix.files import FileOps
from lind_async.rawposix.poll import fd_set_bits, poll_revents
from lind_async.rawposix.readiness import Cancel, Wake, Watchers, host_poll_mask, watch_host_events
from lind_async.rawposix.timerfd import expirations


class Fake(FileOps):
    """An in-process description whose readiness the test sets."""

    __slots__ = ("mask", "watchers")

    def __init__(self, mask: int = 0) -> None:
        super().__init__(F.O_RDWR)
        self.mask = mask
        self.watchers = Watchers()
        self.refs = 1  # as if one descriptor named it

    def set(self, mask: int) -> None:
        self.mask = mask
        self.watchers.fire()

    def poll_mask(self) -> int:
        return self.mask

    def watch(self, events: int, wake: Wake) -> Cancel:
        return self.watchers.add(wake)


def test_level_triggered_reports_while_ready() -> None:
    ep, f = Epoll(), Fake()
    ep.add(3, f, F.EPOLLIN, 42)
    assert ep.collect(8) == []
    assert f.watchers  # not ready: armed
    f.set(F.POLLIN)
    assert ep.collect(8) == [(F.EPOLLIN, 42)]
    assert ep.collect(8) == [(F.EPOLLIN, 42)]
    f.mask = 0  # drained without a wake (a read does not wake its own side)
    assert ep.collect(8) == []
    assert f.watchers


def test_edge_triggered_reports_changes_only() -> None:
    ep, f = Epoll(), Fake(F.POLLIN)
    ep.add(3, f, F.EPOLLIN | F.EPOLLET, 1)
    assert ep.collect(8) == [(F.EPOLLIN, 1)]  # ready when added
    assert ep.collect(8) == []
    f.set(F.POLLIN)  # more data
    assert ep.collect(8) == [(F.EPOLLIN, 1)]
    assert ep.collect(8) == []
    ep.modify(3, f, F.EPOLLIN | F.EPOLLET, 2)  # MOD re-checks readiness
    assert ep.collect(8) == [(F.EPOLLIN, 2)]


def test_oneshot_until_modified() -> None:
    ep, f = Epoll(), Fake(F.POLLIN)
    ep.add(3, f, F.EPOLLIN | F.EPOLLONESHOT, 1)
    assert ep.collect(8) == [(F.EPOLLIN, 1)]
    f.set(F.POLLIN | F.POLLHUP)
    assert ep.collect(8) == []  # not even errors or hang-ups while disabled
    ep.modify(3, f, F.EPOLLIN | F.EPOLLONESHOT, 2)
    assert ep.collect(8) == [(F.EPOLLIN | F.EPOLLHUP, 2)]


def test_errors_and_hangups_always_reported_and_events_filtered() -> None:
    ep, f = Epoll(), Fake(F.POLLOUT | F.POLLERR)
    ep.add(3, f, F.EPOLLIN, 0)
    assert ep.collect(8) == [(F.EPOLLERR, 0)]


def test_maxevents_and_round_robin() -> None:
    ep = Epoll()
    files = [Fake(F.POLLIN) for _ in range(3)]
    for i, f in enumerate(files):
        ep.add(i, f, F.EPOLLIN, i)
    assert [d for _, d in ep.collect(2)] == [0, 1]
    assert [d for _, d in ep.collect(2)] == [2, 0]


def test_entries_belong_to_descriptions() -> None:
    ep, f = Epoll(), Fake(F.POLLIN)
    ep.add(3, f, F.EPOLLIN, 0)
    with pytest.raises(GuestError):
        ep.add(3, f, F.EPOLLIN, 0)  # EEXIST
    ep.add(4, f, F.EPOLLIN, 1)  # the same description under another fd (a dup) is another entry
    assert sorted(d for _, d in ep.collect(8)) == [0, 1]
    f.refs = 0  # its last descriptor closed
    assert ep.collect(8) == []
    assert not ep.entries
    g = Fake(F.POLLIN)
    ep.add(5, g, F.EPOLLIN, 0)
    del g
    gc.collect()
    assert not ep.entries  # the description died: its entry went with it


def test_delete_cancels_the_watch() -> None:
    ep, f = Epoll(), Fake()
    ep.add(3, f, F.EPOLLIN, 0)
    ep.collect(8)
    assert f.watchers
    ep.delete(3, f)
    assert not f.watchers
    with pytest.raises(GuestError):
        ep.delete(3, f)  # ENOENT


def test_nested_epoll_readiness_and_loops() -> None:
    inner, outer, f = Epoll(), Epoll(), Fake()
    inner.refs = 1
    inner.add(3, f, F.EPOLLIN, 0)
    outer.add(4, inner, F.EPOLLIN, 9)
    assert inner.poll_mask() == 0
    assert outer.collect(8) == []
    f.set(F.POLLIN)
    assert inner.poll_mask() & F.POLLIN
    assert outer.collect(8) == [(F.EPOLLIN, 9)]
    assert outer.reaches(inner) and not inner.reaches(outer)
    assert outer.depth() == 1


def test_fd_set_bits() -> None:
    assert fd_set_bits(0) == []
    assert fd_set_bits(0b1011) == [0, 1, 3]
    assert fd_set_bits(1 << 1023) == [1023]


def test_poll_revents_keeps_errors() -> None:
    f = Fake(F.POLLIN | F.POLLOUT | F.POLLHUP)
    assert poll_revents(f, F.POLLOUT) == F.POLLOUT | F.POLLHUP
    assert poll_revents(f, 0) == F.POLLHUP


def test_event_counter() -> None:
    c = EventCounter(3)
    assert c.poll_mask() & F.POLLIN
    assert c.take() == 3
    assert c.take() is None
    assert c.add(MAX_COUNT)
    assert not c.poll_mask() & F.POLLOUT
    assert not c.add(1)  # would overflow: a writer waits
    with pytest.raises(GuestError) as err:
        c.add(MAX_COUNT + 1)
    assert err.value.errno == EINVAL
    s = EventCounter(2, semaphore=True)
    assert (s.take(), s.take(), s.take()) == (1, 1, None)


def test_timer_expirations() -> None:
    assert expirations(5, 10, 0) == (0, 10)
    assert expirations(10, 10, 0) == (1, None)
    assert expirations(10, 10, 4) == (1, 14)
    assert expirations(25, 10, 4) == (4, 26)  # 10, 14, 18, 22 have passed


def test_host_fd_edge_triggered_is_never_missed() -> None:
    """Over a host fd, ET reports arrivals, and an fd left ready is reported again rather than
    lost (the documented approximation): at most once per collect."""

    class HostKind(Fake):
        __slots__ = ("fd",)

        def poll_mask(self) -> int:
            return host_poll_mask(self.fd)

        def watch(self, events: int, wake: Wake) -> Cancel:
            return watch_host_events(self.fd, events, wake)

    async def scenario() -> list[int]:
        r, w = os.pipe()
        os.set_blocking(r, False)
        f = HostKind()
        f.fd = r
        ep = Epoll()
        ep.add(r, f, F.EPOLLIN | F.EPOLLET, 7)
        counts = [len(ep.collect(8))]  # nothing yet: armed on the loop
        os.write(w, b"x")
        await asyncio.sleep(0.01)
        counts.append(len(ep.collect(8)))  # arrival
        await asyncio.sleep(0.01)
        counts.append(len(ep.collect(8)))  # still ready (not drained): reported again
        os.read(r, 10)
        await asyncio.sleep(0.01)
        counts.append(len(ep.collect(8)))  # drained: quiet
        counts.append(len(ep.collect(8)))
        ep.release()
        os.close(r)
        os.close(w)
        return counts

    assert asyncio.run(scenario()) == [0, 1, 1, 0, 0]


def test_modify_rearms_for_the_new_events() -> None:
    class TwoWay(Fake):
        __slots__ = ("out",)

        def watch(self, events: int, wake: Wake) -> Cancel:
            return (self.out if events & F.POLLOUT else self.watchers).add(wake)

    ep, f = Epoll(), TwoWay()
    f.out = Watchers()
    ep.add(3, f, F.EPOLLIN | F.EPOLLET, 0)
    assert ep.collect(8) == [] and f.watchers and not f.out
    ep.modify(3, f, F.EPOLLOUT | F.EPOLLET, 1)
    assert not f.watchers  # the input-side watch went with the old events
    assert ep.collect(8) == [] and f.out
    f.mask = F.POLLOUT
    f.out.fire()
    assert ep.collect(8) == [(F.EPOLLOUT, 1)]


def test_host_watch_registration_outlives_the_wait() -> None:
    """A host fd's loop registration stays armed between waits, goes after firing twice with
    nobody waiting, and goes at once when the fd is forgotten (closed)."""
    from lind_async.rawposix import readiness

    async def scenario() -> list[bool]:
        loop = asyncio.get_running_loop()
        r, w = os.pipe()
        os.set_blocking(r, False)
        key = (loop, r, False)
        seen = []
        woken: asyncio.Future[None] = loop.create_future()
        cancel = readiness.watch_host_fd(r, writable=False, wake=lambda: woken.set_result(None))
        os.write(w, b"x")
        await woken  # fired
        cancel()
        os.read(r, 10)  # as a reader would, right after its wait
        seen.append(True)
        await asyncio.sleep(0.01)
        seen.append(key in readiness._WATCHES)  # still registered after the wait
        os.write(w, b"y")  # ready with nobody waiting: two idle fires drop it
        await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        seen.append(key not in readiness._WATCHES)
        os.read(r, 10)
        cancel = readiness.watch_host_fd(r, writable=False, wake=lambda: None)
        seen.append(key in readiness._WATCHES)
        cancel()
        readiness.forget_host_fd(r)
        seen.append(key not in readiness._WATCHES and r not in readiness._BY_FD)
        os.close(r)
        os.close(w)
        return seen

    assert asyncio.run(scenario()) == [True] * 5
