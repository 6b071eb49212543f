"""Readiness: what poll/select/epoll ask of every kind of open file.

Theory of operation
-------------------
Every :class:`~lind_async.rawposix.files.FileOps` answers two questions:

- ``poll_mask()``: its readiness *now* (``POLLIN``/``POLLOUT``/``POLLHUP``/``POLLERR``…), without
  waiting. Regular files are always ready, as on Linux;
- ``watch(wake)``: call ``wake()`` when that readiness *may* have changed; returns a cancel
  function. Wakes may be spurious: a waiter always re-asks ``poll_mask()``.

In-process kinds (pipes, eventfd, in-process sockets…) fire ``wake`` from the :class:`Watchers`
of their wait queues. Host-fd kinds fire it from the event loop through :func:`watch_host_fd`, a
fan-out over one ``add_reader``/``add_writer`` per host fd and direction: asyncio keeps only one
callback per fd, and two cages waiting on one shared socket (after ``fork``) must both wake.
Host watches are level-triggered by the loop. A registration is kept between waits (re-adding a
loop reader per wait cost more than the wait), and dropped once it fires twice in a row with
nobody waiting, or when the fd is closed (:func:`forget_host_fd`, which every host-fd kind calls
before closing): a ready fd nobody waits for costs at most two loop wake-ups.

:func:`wait_ready` is the one generic wait (poll, select, epoll_wait): arm every watch, suspend the
calling cage until any fires, the timeout passes or a signal arrives (``EINTR``), disarm all.
:func:`with_sigmask` runs such a wait under a temporary signal mask (ppoll, pselect6, epoll_pwait).
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from lind_async.abi.errno import EINTR, GuestError
from lind_async.abi.flags import POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI

if TYPE_CHECKING:
    from lind_async.rawposix.files import FileOps
    from lind_async.rawposix.kernel import CageView

Wake = Callable[[], None]
Cancel = Callable[[], None]


def _noop() -> None:
    return None


NO_WATCH: Cancel = _noop


class RoomWake:
    """A watch of a pipe's reading side that acts only when the pipe has less than ``below``
    bytes of room or no writer left (``embed/capture.py``'s, moving the bytes out of a nearly
    full pipe and seeing its end). That is its contract: called with a writer left and at least
    ``below`` bytes of room, it does nothing, so the C trampoline's pipe writes skip it then
    (``native/syscall_pipes.c``); Python's path calls it as any other watch."""

    __slots__ = ("below", "wake")

    def __init__(self, wake: Wake, below: int) -> None:
        self.wake = wake
        self.below = below

    def __call__(self) -> None:
        self.wake()


class Watchers:
    """Callbacks to fire when an in-process object's readiness may have changed."""

    __slots__ = ("_callbacks",)

    def __init__(self) -> None:
        self._callbacks: dict[int, Wake] = {}

    def add(self, wake: Wake) -> Cancel:
        key = id(wake)
        while key in self._callbacks:
            key += 1
        self._callbacks[key] = wake

        def cancel() -> None:
            self._callbacks.pop(key, None)

        return cancel

    def fire(self) -> None:
        if self._callbacks:
            for wake in list(self._callbacks.values()):
                wake()

    def __bool__(self) -> bool:
        return bool(self._callbacks)


def host_poll_mask(host_fd: int, events: int = POLLIN | POLLOUT | POLLPRI) -> int:
    """The host kernel's readiness of ``host_fd`` now (a zero-timeout ``poll``)."""
    poller = select.poll()
    poller.register(host_fd, events)
    ready = poller.poll(0)
    return ready[0][1] if ready else 0


class _HostWatch:
    """The fan-out of one host fd and direction over a single loop registration.

    The registration outlives the waits that made it (see the module docstring): adding and
    removing a loop reader costs more than the wait itself (uvloop: ~6 us a pair, a wait cycle
    16 us re-registered vs 5.5 us kept). It is dropped when it fires :data:`IDLE_FIRES` times in
    a row with nobody waiting (the fd stays ready and nobody reads it), or the fd closes.
    """

    __slots__ = ("armed", "callbacks", "fd", "idle", "key", "loop", "writable")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, writable: bool) -> None:
        self.loop = loop
        self.fd = fd
        self.writable = writable
        self.key = (loop, fd, writable)
        self.callbacks: dict[int, Wake] = {}
        self.armed = False
        self.idle = 0

    def arm(self) -> None:
        self.idle = 0
        if not self.armed:
            self.armed = True
            if self.writable:
                self.loop.add_writer(self.fd, self.fire)
            else:
                self.loop.add_reader(self.fd, self.fire)

    def disarm(self) -> None:
        if self.armed:
            self.armed = False
            if self.loop.is_closed():
                return  # its registrations went with it
            if self.writable:
                self.loop.remove_writer(self.fd)
            else:
                self.loop.remove_reader(self.fd)

    def drop(self) -> None:
        """Disarm and forget this registration."""
        self.disarm()
        if _WATCHES.get(self.key) is self:
            del _WATCHES[self.key]
            keys = _BY_FD.get(self.fd)
            if keys is not None:
                keys.discard(self.key)
                if not keys:
                    del _BY_FD[self.fd]

    def fire(self) -> None:
        callbacks = self.callbacks
        if not callbacks:
            self.idle += 1
            if self.idle >= IDLE_FIRES:
                self.drop()
            return
        self.callbacks = {}
        self.idle = 0
        for wake in callbacks.values():
            wake()


IDLE_FIRES = 2  # fires with nobody waiting before a kept registration is dropped
_WATCHES: dict[tuple[asyncio.AbstractEventLoop, int, bool], _HostWatch] = {}
_BY_FD: dict[int, set[tuple[asyncio.AbstractEventLoop, int, bool]]] = {}


def watch_host_fd(host_fd: int, *, writable: bool, wake: Wake) -> Cancel:
    """Call ``wake`` once when ``host_fd`` becomes readable (or writable); returns a cancel."""
    loop = asyncio.get_running_loop()
    key = (loop, host_fd, writable)
    watch = _WATCHES.get(key)
    if watch is None:
        watch = _WATCHES[key] = _HostWatch(loop, host_fd, writable)
        _BY_FD.setdefault(host_fd, set()).add(key)
    callbacks = watch.callbacks
    token = id(wake)
    while token in callbacks:
        token += 1
    callbacks[token] = wake
    watch.arm()

    def cancel() -> None:
        # The registration stays (armed) for the next wait: _HostWatch.fire drops it if the fd
        # turns out to be ready with nobody waiting.
        watch.callbacks.pop(token, None)

    return cancel


def forget_host_fd(host_fd: int) -> None:
    """``host_fd`` is about to be closed: drop every loop registration for it."""
    for key in list(_BY_FD.get(host_fd, ())):
        watch = _WATCHES.get(key)
        if watch is not None:
            watch.drop()
    _BY_FD.pop(host_fd, None)


def watch_host_events(host_fd: int, events: int, wake: Wake) -> Cancel:
    """Watch ``host_fd`` for the poll ``events`` asked (input side, output side or both)."""
    cancels = []
    if events & (POLLIN | POLLPRI) or not events & POLLOUT:
        cancels.append(watch_host_fd(host_fd, writable=False, wake=wake))
    if events & POLLOUT:
        cancels.append(watch_host_fd(host_fd, writable=True, wake=wake))
    if len(cancels) == 1:
        return cancels[0]

    def cancel_all() -> None:
        for cancel in cancels:
            cancel()

    return cancel_all


ALWAYS = POLLERR | POLLHUP | POLLNVAL  # reported whether asked for or not


async def wait_ready(
    cage: CageView, files: Iterable[tuple[FileOps, int]], timeout: float | None
) -> None:
    """Suspend ``cage`` until one of ``files`` may be ready for its events, the ``timeout``
    (seconds; ``None``: forever) passes, or a signal ends the wait with ``EINTR``.

    The caller re-checks ``poll_mask()`` afterwards: a return means only "look again".
    """
    await wait_any(cage, lambda wake: [file.watch(events, wake) for file, events in files], timeout)


async def wait_any(
    cage: CageView, arm: Callable[[Wake], list[Cancel]], timeout: float | None
) -> None:
    """Suspend ``cage`` until one of the watches ``arm`` sets up (given the wake-up to call)
    fires, ``timeout`` seconds pass (``None``: never) or a signal ends the wait with ``EINTR``;
    every watch is cancelled afterwards."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    cancels = arm(wake)
    timer = loop.call_later(timeout, wake) if timeout is not None else None
    try:
        await cage.block_on(ready)
    finally:
        if timer is not None:
            timer.cancel()
        for cancel in cancels:
            cancel()


async def with_sigmask(cage: CageView, mask: int | None, number: int, work: Awaitable[int]) -> int:
    """Run the wait ``work`` with the signal ``mask`` in force (ppoll, pselect6, epoll_pwait).

    As ``rt_sigsuspend``: a signal that interrupts the wait is delivered under the temporary
    mask, then the caller's mask comes back; ``None`` leaves the mask alone.
    """
    if mask is None:
        return await work
    state = cage.signals
    saved = state.blocked
    state.set_mask(mask)
    try:
        return await work
    except GuestError as exc:
        if exc.errno == EINTR:  # delivered at the call's return, under ``mask``
            state.defer_mask(number, mask)
        raise
    finally:
        state.set_mask(saved)
