"""The one blocking policy: try now; if the call would block, park only this cage and retry.

Theory of operation
-------------------
A handler first attempts its operation inline, with no coroutine and no closure, so a call that
completes at once (the common case) costs nothing more. Host fds the microvisor owns are
non-blocking, so a host attempt that would block raises ``BlockingIOError``; an in-process one
(a pipe, a queue) says so by returning ``None``. The handler then returns :func:`block`, which
holds the rest of the policy in one place:

* **non-blocking**: ``O_NONBLOCK`` on the description, or a per-call ``MSG_DONTWAIT``/
  ``IPC_NOWAIT`` (the caller folds them into ``nonblocking``): fail now with ``EAGAIN``;
* **wait**: otherwise an awaitable that suspends only the calling cage on a readiness source
  (:data:`Wait`: a host fd's loop readiness, :func:`wait_fd`; a :class:`WaitQueue`; a socket's
  watches) and retries the attempt each time that source says "look again" (wake-ups may be
  spurious: an attempt that still would block just waits again);
* **deadline**: with ``timeout`` (``SO_RCVTIMEO``/``SO_SNDTIMEO``, seconds from the first
  wait), a retry that finds the time passed fails with ``expired`` — ``EAGAIN`` as Linux's
  socket timeouts, or what the call says (``EINPROGRESS`` for ``connect``, ``ETIMEDOUT``); the
  :data:`Wait` is given the time left and must return by then;
* **signals**: a :data:`Wait` goes through ``Cage.block_on``, which ends it with ``EINTR`` when a
  signal arrives for the cage; the error propagates unchanged, and ``SA_RESTART`` is handled
  above the handler (``runtime/signals.py`` re-issues the calls in ``RESTARTABLE``).

``look_first`` retries before the first wait: for an in-process source whose wake-up (a
``WaitQueue.wake_all``) is lost if it happens between the handler's attempt and the waiter's
registration — a cage can be preempted there.

Loops that are not this policy stay hand-written and say why: transfers that make partial
progress (a blocking ``write``/``send`` of more than fits, ``MSG_WAITALL``) return the count so
far when interrupted; poll/select/epoll time out with 0, not an error; lock waits back off and
detect deadlocks; semaphore waits count their waiters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from lind_async.abi.errno import EAGAIN, GuestError
from lind_async.rawposix.readiness import Watchers, watch_host_fd

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

T = TypeVar("T")
Wait = Callable[[float | None], Awaitable[object]]
"""Suspend the calling cage until its readiness source may have changed, or ``left`` seconds
pass (``None``: no limit); ``EINTR`` when a signal arrives."""


def block(
    attempt: Callable[[], T | None],
    wait: Wait,
    *,
    nonblocking: bool = False,
    timeout: float | None = None,
    expired: int = EAGAIN,
    look_first: bool = False,
) -> Awaitable[T]:
    """A handler's answer once its first attempt would have blocked (module docstring):
    ``EAGAIN`` now if ``nonblocking``, else an awaitable of ``attempt``'s eventual result.

    ``attempt`` returns the result, or ``None`` (or raises ``BlockingIOError``) to wait again.
    """
    if nonblocking:
        raise GuestError(EAGAIN)
    return _retry(attempt, wait, timeout, expired, look_first)


async def _retry(
    attempt: Callable[[], T | None],
    wait: Wait,
    timeout: float | None,
    expired: int,
    look_first: bool,
) -> T:
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    if look_first:
        got = _try(attempt)
        if got is not None:
            return got
    while True:
        if deadline is None:
            await wait(None)
        else:
            left = deadline - loop.time()
            if left <= 0:
                raise GuestError(expired)
            await wait(left)
        got = _try(attempt)
        if got is not None:
            return got


def _try(attempt: Callable[[], T | None]) -> T | None:
    try:
        return attempt()
    except BlockingIOError:
        return None


def on_host_fd(cage: CageView, fd: int, *, writable: bool) -> Wait:
    """The :data:`Wait` on a host fd's loop readiness (a deadline's ``left`` included)."""

    def wait(left: float | None) -> Awaitable[None]:
        return wait_fd(fd, writable=writable, cage=cage, timeout=left)

    return wait


def on_queue(cage: CageView, waiters: WaitQueue) -> Wait:
    """The :data:`Wait` for ``waiters.wake_all`` (no deadline: for calls without a timeout)."""

    def wait(left: float | None) -> Awaitable[None]:
        assert left is None, "a WaitQueue wait has no deadline"
        return waiters.wait(cage)

    return wait


async def wait_fd(
    host_fd: int, *, writable: bool, cage: CageView | None = None, timeout: float | None = None
) -> None:
    """Suspend until ``host_fd`` is readable (or writable) or ``timeout`` seconds pass; with
    ``cage``, a signal for it ends the wait with ``EINTR``."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    cancel = watch_host_fd(host_fd, writable=writable, wake=wake)
    timer = None if timeout is None else loop.call_later(timeout, wake)
    try:
        if cage is None:
            await ready
        else:
            await cage.block_on(ready)
    finally:
        if timer is not None:
            timer.cancel()
        cancel()


class WaitQueue:
    """Cages waiting for a condition to change; :meth:`wake_all` makes them re-check it.

    A wait goes through :meth:`Cage.block_on`, so a signal for the cage can end it with ``EINTR``.
    """

    __slots__ = ("_waiters", "watchers")

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []
        self.watchers = Watchers()  # poll/select/epoll interest (rawposix/readiness.py)

    async def wait(self, cage: CageView) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(ready)
        try:
            await cage.block_on(ready)
        finally:
            if ready in self._waiters:
                self._waiters.remove(ready)

    def wake_all(self) -> None:
        if self._waiters:  # (every pipe or socket transfer calls this: mostly nobody waits)
            waiters, self._waiters = self._waiters, []
            for ready in waiters:
                if not ready.done():
                    ready.set_result(None)
        self.watchers.fire()
