"""In-process socket buffers: the byte stream and the datagram queue of an AF_UNIX socket, no I/O.

Theory of operation
-------------------
An in-process AF_UNIX socket (``rawposix/unix_socket.py``) keeps what its peer sent in one of
these, on the *receiving* side. Both may carry *rights* (the open file descriptions of an
``SCM_RIGHTS`` message) with the bytes; the rights are opaque objects here.

:class:`StreamBuffer` (``SOCK_STREAM``) is a queue of segments, one per send. A read copies bytes
across segment boundaries (a byte stream), except that a segment carrying rights is never merged
with the bytes before it, and a read that takes a segment's rights stops after that segment (as
Linux does), so rights arrive with the first byte that was sent with them.

:class:`DatagramQueue` (``SOCK_DGRAM``) keeps whole messages with their sender's address; a read
takes one message, truncating it to the buffer (the rest is lost, ``MSG_TRUNC``).

The methods never wait: they say how much moved, and the caller decides whether to return, wait
or fail with ``EAGAIN``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CAPACITY = 212_992  # Linux's default net.core.[rw]mem_default
MAX_DATAGRAMS = 512  # net.unix.max_dgram_qlen
Rights = list[Any]  # opaque here (open file descriptions in RawPOSIX)


@dataclass(slots=True)
class Segment:
    data: bytes
    rights: Rights | None = None
    start: int = 0  # bytes of ``data`` already read


def scatter(data: bytes | memoryview, views: list[memoryview]) -> int:
    """Copy ``data`` into ``views`` in order; returns the byte count copied."""
    done = 0
    for view in views:
        n = min(len(view), len(data) - done)
        if n <= 0:
            break
        view[:n] = data[done : done + n]
        done += n
    return done


class StreamBuffer:
    """The receive side of a stream socket (see the module docstring)."""

    __slots__ = ("_segments", "capacity", "size")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._segments: deque[Segment] = deque()
        self.capacity = capacity
        self.size = 0  # unread bytes

    def __len__(self) -> int:
        return self.size

    @property
    def room(self) -> int:
        return max(0, self.capacity - self.size)

    def write(self, data: bytes, rights: Rights | None = None) -> int:
        """Append what fits now; returns the byte count (0: full, must wait).

        ``rights`` ride with the first byte; they are accepted only if at least one byte is.
        """
        take = min(len(data), self.room)
        if take <= 0:
            return 0
        self._segments.append(Segment(data[:take] if take < len(data) else data, rights or None))
        self.size += take
        return take

    def read_into(
        self, views: list[memoryview], *, peek: bool = False
    ) -> tuple[int, Rights | None]:
        """Move up to the views' length out; returns ``(count, rights or None)``."""
        want = sum(len(v) for v in views)
        done = 0
        rights: Rights | None = None
        consumed = 0  # whole segments to drop (not peeking)
        partial = 0  # bytes read from the next segment
        for seg in self._segments:
            if done >= want:
                break
            if seg.rights is not None:
                if done:
                    break  # never merge bytes across a segment that carries rights
                rights = seg.rights
            avail = len(seg.data) - seg.start
            n = min(avail, want - done)
            _copy_at(views, done, memoryview(seg.data)[seg.start : seg.start + n])
            done += n
            if n == avail:
                consumed += 1
            else:
                partial = n
            if rights is not None:
                break
        if not peek:
            for _ in range(consumed):
                self._segments.popleft()
            if partial:
                head = self._segments[0]
                head.start += partial
                head.rights = None  # taken now, if it carried any
            self.size -= done
        return done, rights

    def drain(self) -> Rights:
        """Drop everything (the socket is gone); returns the rights that were never received."""
        lost: Rights = []
        for seg in self._segments:
            if seg.rights:
                lost.extend(seg.rights)
        self._segments.clear()
        self.size = 0
        return lost


def _copy_at(views: list[memoryview], offset: int, data: memoryview) -> None:
    """Copy ``data`` into the concatenation of ``views`` starting at byte ``offset``."""
    for view in views:
        if not data:
            return
        if offset >= len(view):
            offset -= len(view)
            continue
        n = min(len(view) - offset, len(data))
        view[offset : offset + n] = data[:n]
        data = data[n:]
        offset = 0


@dataclass(slots=True)
class Datagram:
    data: bytes
    sender: bytes  # the sender's address (raw sockaddr bytes; may be just the family)
    rights: Rights | None = None


@dataclass(slots=True)
class DatagramQueue:
    """The receive side of a datagram socket (see the module docstring)."""

    capacity: int = DEFAULT_CAPACITY
    max_count: int = MAX_DATAGRAMS
    size: int = 0
    _queue: deque[Datagram] = field(default_factory=deque)

    def __len__(self) -> int:
        return len(self._queue)

    def fits(self, length: int) -> bool:
        """A message of ``length`` bytes can be queued now (an empty queue takes any size)."""
        if not self._queue:
            return True
        return len(self._queue) < self.max_count and self.size + length <= self.capacity

    def push(self, dgram: Datagram) -> bool:
        if not self.fits(len(dgram.data)):
            return False
        self._queue.append(dgram)
        self.size += len(dgram.data)
        return True

    def next_size(self) -> int:
        """The length of the next message (``-1``: none)."""
        return len(self._queue[0].data) if self._queue else -1

    def pop_into(self, views: list[memoryview], *, peek: bool = False) -> tuple[int, int, Datagram]:
        """Copy the next message out: ``(copied, full length, message)``; the queue is not
        empty (callers check ``len`` first). Rights are taken unless peeking."""
        dgram = self._queue[0]
        copied = scatter(dgram.data, views)
        if not peek:
            self._queue.popleft()
            self.size -= len(dgram.data)
        return copied, len(dgram.data), dgram

    def drain(self) -> Rights:
        lost: Rights = []
        for dgram in self._queue:
            if dgram.rights:
                lost.extend(dgram.rights)
        self._queue.clear()
        self.size = 0
        return lost
