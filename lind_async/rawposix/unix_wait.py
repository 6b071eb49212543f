"""How a blocked AF_UNIX socket call waits (``unix_socket.py``): until one of the socket's wait
queues fires (``readq``, ``roomq`` or ``sendq``, or a peer's), a host listener has a connection,
the ``SO_RCVTIMEO``/``SO_SNDTIMEO`` deadline passes or a signal arrives (``EINTR``, from
``cage.block_on``). Only the calling cage's thread is parked; the loop runs on.

:func:`ready` is one wait (a ``blocking.Wait`` for ``blocking.block``, which connect and accept
use); :func:`wait_on` is one wait of a loop that keeps its deadline across waits (the sends and
receives that make partial progress and so are not ``blocking.block``'s policy)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lind_async.abi.errno import EAGAIN, GuestError
from lind_async.rawposix.blocking import WaitQueue
from lind_async.rawposix.readiness import Cancel, Wake, wait_any

if TYPE_CHECKING:
    from lind_async.rawposix.host_unix import HostListener
    from lind_async.rawposix.kernel import CageView

__all__ = ["ready", "wait_on"]


async def wait_on(
    cage: CageView,
    queues: list[WaitQueue],
    timeout: float | None,
    deadline: float,
    host: HostListener | None = None,
) -> float:
    """Wait until one of ``queues`` fires, or ``host`` has a connection (``EAGAIN`` once an
    ``SO_*TIMEO`` passes)."""
    loop = asyncio.get_running_loop()
    left = None
    if timeout is not None:
        now = loop.time()
        if not deadline:
            deadline = now + timeout
        if now >= deadline:
            raise GuestError(EAGAIN)
        left = deadline - now
    await ready(cage, queues, left, host)
    return deadline


async def ready(
    cage: CageView, queues: list[WaitQueue], left: float | None, host: HostListener | None
) -> None:
    """Suspend until one of ``queues`` fires, ``host`` has a connection or ``left`` seconds
    pass; ``EINTR`` on a signal (a ``blocking.Wait`` once ``left`` is its only argument)."""

    def arm(wake: Wake) -> list[Cancel]:
        cancels = [queue.watchers.add(wake) for queue in queues]
        if host is not None:
            cancels.append(host.watch(wake))
        return cancels

    await wait_any(cage, arm, left)
