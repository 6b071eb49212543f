"""The one blocking policy: try the non-blocking host call; on would-block, park only this cage.

Host fds the microvisor owns are non-blocking. A handler calls :func:`retry_io` with the attempt;
if the attempt raises ``BlockingIOError``, the calling cage awaits loop readiness of the host fd
and tries again. The event loop, and every other cage, keeps running meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from lind_async.rawposix.readiness import Watchers, watch_host_fd

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView


async def wait_fd(host_fd: int, *, writable: bool, cage: CageView | None = None) -> None:
    """Suspend until ``host_fd`` is readable (or writable); with ``cage``, a signal for it
    ends the wait with ``EINTR``."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    cancel = watch_host_fd(host_fd, writable=writable, wake=wake)
    try:
        if cage is None:
            await ready
        else:
            await cage.block_on(ready)
    finally:
        cancel()


async def retry_io(
    host_fd: int, attempt: Callable[[], int], *, writable: bool, cage: CageView | None = None
) -> int:
    """Run ``attempt`` until it stops raising ``BlockingIOError``."""
    while True:
        await wait_fd(host_fd, writable=writable, cage=cage)
        try:
            return attempt()
        except BlockingIOError:
            continue


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
        waiters, self._waiters = self._waiters, []
        for ready in waiters:
            if not ready.done():
                ready.set_result(None)
        self.watchers.fire()
