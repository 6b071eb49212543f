"""Edge-triggered host readiness, for signal-driven I/O (``sigio.py``) on host-fd kinds.

Theory of operation
-------------------
The loop's watches (``readiness.py``) are level-triggered: they suit poll and epoll, which ask
"is it ready now?", but a socket left readable would fire them again and again. Linux sends
``SIGIO`` on each *new* input event (``kill_fasync`` from the socket's ``sk_data_ready``: data
arrived, a connection came in, the peer shut down), never again for data already there.

One private epoll instance per event loop, added to the loop once as a reader, holds every
watched host fd with ``EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLET``. Edge-triggered, the kernel
queues the fd again on each wake-up of its input side — each arrival, even while older data is
unread — and not otherwise; output-side wake-ups (room to write, the peer reading) are filtered
out by the kernel because ``EPOLLOUT`` is not asked for. A fd already readable when it is added is
reported once by ``EPOLL_CTL_ADD``; that report is dropped, as setting ``O_ASYNC`` on Linux
signals nothing for what is already there. Kinds epoll refuses (regular files: ``EPERM``) get no
watch: Linux's regular files have no ``fasync`` either.

A host fd closed while watched leaves the epoll set by itself (the kernel drops the item when the
file is closed). Each watch is a token, so a late cancel never removes a newer watch of a reused
fd number; the epoll instance is closed when its last watch goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import select
from collections.abc import Callable

from lind_async.rawposix.readiness import Cancel

Fire = Callable[[int], None]  # called with the epoll events reported (EPOLLIN, EPOLLHUP…)
EVENTS = select.EPOLLIN | select.EPOLLPRI | select.EPOLLRDHUP | select.EPOLLET
_tokens = itertools.count(1)


class _Edges:
    """One loop's private epoll instance and the watches in it."""

    __slots__ = ("epoll", "fires", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.epoll = select.epoll()
        self.fires: dict[int, tuple[int, Fire]] = {}  # host fd -> (token, fire)
        loop.add_reader(self.epoll.fileno(), self.drain)

    def add(self, host_fd: int, fire: Fire) -> Cancel | None:
        try:
            self.epoll.register(host_fd, EVENTS)
        except FileExistsError:  # a stale item of an earlier watch of this description
            self.epoll.modify(host_fd, EVENTS)
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.EBADF):
                return None  # not a pollable fd (a regular file): nothing to signal
            raise
        token = next(_tokens)
        self.fires[host_fd] = (token, fire)
        for fd, events in self.epoll.poll(0):  # the report of what was already there
            if fd != host_fd and fd in self.fires:
                self.loop.call_soon(self._fire, fd, events)

        def cancel() -> None:
            entry = self.fires.get(host_fd)
            if entry is None or entry[0] != token:
                return
            del self.fires[host_fd]
            with contextlib.suppress(OSError):  # closed already: the kernel removed the item
                self.epoll.unregister(host_fd)
            if not self.fires:
                self.close()

        return cancel

    def drain(self) -> None:
        for fd, events in self.epoll.poll(0):
            self._fire(fd, events)

    def _fire(self, fd: int, events: int) -> None:
        entry = self.fires.get(fd)
        if entry is not None:
            entry[1](events)

    def close(self) -> None:
        if _EDGES.get(self.loop) is self:
            del _EDGES[self.loop]
        self.loop.remove_reader(self.epoll.fileno())
        self.epoll.close()


_EDGES: dict[asyncio.AbstractEventLoop, _Edges] = {}


def watch_edges(host_fd: int, fire: Fire) -> Cancel | None:
    """Call ``fire(events)`` on each new input-side event of ``host_fd`` until cancelled;
    ``None`` when the fd cannot be watched (see the module docstring)."""
    loop = asyncio.get_running_loop()
    edges = _EDGES.get(loop)
    if edges is None:
        edges = _EDGES[loop] = _Edges(loop)
    cancel = edges.add(host_fd, fire)
    if cancel is None and not edges.fires:
        edges.close()
    return cancel
