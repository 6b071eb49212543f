"""In-process socket buffers: the byte stream and the message queue of an AF_UNIX socket, and the
send-buffer accounting that makes their flow control Linux's; no I/O.

Theory of operation
-------------------
An in-process AF_UNIX socket (``rawposix/unix_socket.py``) keeps what its peer sent in one of
these, on the *receiving* side. Both may carry *rights* (the open file descriptions of an
``SCM_RIGHTS`` message) with the bytes; the rights are opaque objects here.

*Flow control is the sender's*, as in Linux: every queued piece (a stream segment, a message) is
charged to its sender's :class:`SendAccount` until the receiver consumes it, and a send may start
a new piece only while the account is below ``SO_SNDBUF`` (so the last piece may overshoot). The
charge is the kernel's ``skb->truesize`` for that piece (:func:`stream_piece`,
:func:`stream_truesize`, :func:`dgram_truesize`: struct + head allocation rounded to a kmalloc
size + page fragments), so a non-blocking sender fills exactly as much as on Linux x86_64 (6.x,
4 KiB pages). The receiver's ``SO_RCVBUF`` limits nothing for AF_UNIX, as on Linux.

:class:`StreamBuffer` (``SOCK_STREAM``) is a queue of segments, one per piece. A read copies
bytes across segment boundaries (a byte stream) and stops after the first segment that carries
rights (Linux's ``unix_stream_read_generic``), so rights arrive with the last byte of the read
that takes them; bytes sent before them may be merged into that read.

:class:`DatagramQueue` (``SOCK_DGRAM``, ``SOCK_SEQPACKET``) keeps whole messages with their
sender's address; a read takes one message, truncating it to the buffer (the rest is lost,
``MSG_TRUNC``). Its length limit (``net.unix.max_dgram_qlen``) applies only to senders the
receiver is not connected back to, which the socket decides.

The methods never wait: they say how much moved, and the caller decides whether to return, wait
or fail with ``EAGAIN``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CAPACITY = 212_992  # Linux's default net.core.[rw]mem_default
MAX_DATAGRAMS = 10  # Linux's default net.unix.max_dgram_qlen
Rights = list[Any]  # opaque here (open file descriptions in RawPOSIX)

# -- Linux's skb sizes (x86_64, 4 KiB pages, 64-byte cache lines) -------------------------------
PAGE = 4096
_SKB = 256  # SKB_DATA_ALIGN(sizeof(struct sk_buff))
_SHINFO = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
_MAX_HEAD = PAGE - _SHINFO  # SKB_MAX_HEAD(0)
_FRAGS = 32_768  # UNIX_SKB_FRAGS_SZ
_MAX_ALLOC = 4 * PAGE - _SHINFO  # SKB_MAX_ALLOC
_MAX_SKB_FRAGS = 17
_KMALLOC = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)


def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def _kmalloc(n: int) -> int:
    """The size kmalloc really hands out for ``n`` bytes (SLUB caches, then whole pages)."""
    for size in _KMALLOC:
        if n <= size:
            return size
    pages = PAGE
    while pages < n:
        pages *= 2
    return pages


def _truesize(head: int, frags: int) -> int:
    return _SKB + _kmalloc(_align(head, 64) + _SHINFO) + _align(frags, PAGE)


def stream_piece(remaining: int, sndbuf: int) -> int:
    """How many bytes of a stream send the next piece (skb) takes."""
    return max(1, min(remaining, (sndbuf >> 1) - 64, _MAX_HEAD + _FRAGS))


def stream_truesize(size: int) -> int:
    """The charge of a stream piece of ``size`` bytes."""
    frags = min(size, _align(max(0, size - _MAX_HEAD), PAGE))
    return _truesize(size - frags, frags)


def dgram_truesize(size: int) -> int:
    """The charge of a datagram (or seqpacket message) of ``size`` bytes."""
    frags = 0
    if size > _MAX_ALLOC:
        frags = _align(min(size - _MAX_ALLOC, _MAX_SKB_FRAGS * PAGE), PAGE)
    return _truesize(size - frags, frags)


class SendAccount:
    """A sender's ``SO_SNDBUF`` and the bytes charged to it (``sk_wmem_alloc``)."""

    __slots__ = ("on_credit", "sndbuf", "wmem")

    def __init__(self, sndbuf: int = DEFAULT_CAPACITY, on_credit: Callable[[], None] | None = None):
        self.sndbuf = sndbuf
        self.wmem = 0
        self.on_credit = on_credit  # called when charges come back (the sender's writers wake)

    def full(self) -> bool:
        """No new piece may start now (``sock_alloc_send_pskb`` would wait)."""
        return self.wmem >= self.sndbuf

    def writable(self) -> bool:
        """``POLLOUT`` for the sender (``unix_writable``)."""
        return self.wmem * 4 <= self.sndbuf

    def credit(self, charge: int) -> None:
        self.wmem -= charge
        if self.on_credit is not None:
            self.on_credit()


@dataclass(slots=True)
class Segment:
    data: bytes
    rights: Rights | None = None
    start: int = 0  # bytes of ``data`` already read
    account: SendAccount | None = None
    charge: int = 0


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

    __slots__ = ("_segments", "size")

    def __init__(self) -> None:
        self._segments: deque[Segment] = deque()
        self.size = 0  # unread bytes

    def __len__(self) -> int:
        return self.size

    def write(
        self,
        data: bytes,
        rights: Rights | None = None,
        account: SendAccount | None = None,
        charge: int = 0,
    ) -> int:
        """Append one piece, charged to ``account``; returns its byte count."""
        if account is not None:
            account.wmem += charge
        self._segments.append(Segment(data, rights or None, 0, account, charge))
        self.size += len(data)
        return len(data)

    def read_into(
        self, views: list[memoryview], *, peek: bool = False
    ) -> tuple[int, Rights | None]:
        """Move up to the views' length out; returns ``(count, rights or None)``. Peeking
        returns the rights of the segment it stops at and leaves them queued."""
        want = sum(len(v) for v in views)
        done = 0
        rights: Rights | None = None
        consumed = 0  # whole segments to drop (not peeking)
        partial = 0  # bytes read from the next segment
        for seg in self._segments:
            if done >= want:
                break
            avail = len(seg.data) - seg.start
            n = min(avail, want - done)
            _copy_at(views, done, memoryview(seg.data)[seg.start : seg.start + n])
            done += n
            if n == avail:
                consumed += 1
            else:
                partial = n
            if seg.rights is not None:
                rights = seg.rights
                break
        if not peek:
            for _ in range(consumed):
                _credit(self._segments.popleft())
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
        segments, self._segments = self._segments, deque()
        self.size = 0
        for seg in segments:
            _credit(seg)
        return lost


def _credit(piece: Segment | Datagram) -> None:
    if piece.account is not None:
        piece.account.credit(piece.charge)
        piece.account = None


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
    sender: bytes  # the sender's address (raw sockaddr bytes; empty when it has no name)
    rights: Rights | None = None
    account: SendAccount | None = None
    charge: int = 0


@dataclass(slots=True)
class DatagramQueue:
    """The receive side of a datagram or seqpacket socket (see the module docstring)."""

    max_count: int = MAX_DATAGRAMS
    size: int = 0  # bytes of every queued message
    _queue: deque[Datagram] = field(default_factory=deque)

    def __len__(self) -> int:
        return len(self._queue)

    def full(self) -> bool:
        """The queue refuses senders it is not connected back to (``unix_recvq_full``)."""
        return len(self._queue) > self.max_count

    def push(self, dgram: Datagram) -> None:
        """Queue a message, charging its account ``dgram.charge``."""
        if dgram.account is not None:
            dgram.account.wmem += dgram.charge
        self._queue.append(dgram)
        self.size += len(dgram.data)

    def next_size(self) -> int:
        """The length of the next message (``-1``: none)."""
        return len(self._queue[0].data) if self._queue else -1

    def pop_into(self, views: list[memoryview], *, peek: bool = False) -> tuple[int, int, Datagram]:
        """Copy the next message out: ``(copied, full length, message)``; the queue is not
        empty (callers check ``len`` first). A message taken (not peeked) is credited back."""
        dgram = self._queue[0]
        copied = scatter(dgram.data, views)
        if not peek:
            self._queue.popleft()
            self.size -= len(dgram.data)
            _credit(dgram)
        return copied, len(dgram.data), dgram

    def drain(self) -> Rights:
        lost: Rights = []
        for dgram in self._queue:
            if dgram.rights:
                lost.extend(dgram.rights)
        queue, self._queue = self._queue, deque()
        self.size = 0
        for dgram in queue:
            _credit(dgram)
        return lost
