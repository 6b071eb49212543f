"""Pipe buffer state: an in-process byte ring with POSIX pipe semantics, no I/O.

Theory of operation
-------------------
A pipe between cages never touches a host fd. :class:`PipeBuffer` holds the bytes and counts the
open read and write descriptions. The rules (POSIX, Linux's numbers):

- capacity 64 KiB (``F_GETPIPE_SZ``); a write of at most ``PIPE_BUF`` (4096) bytes is atomic: it
  goes in whole or, if there is not room for all of it, not at all (the writer waits);
- a larger write takes what fits and the writer waits for the rest;
- reading an empty pipe waits while a writer exists, and sees end-of-file (0) when none does;
- writing with no reader left fails with ``EPIPE`` (and the runtime raises ``SIGPIPE``).

The methods never wait: they say how much moved, and the runtime (``rawposix/pipe.py``) decides
whether to return, wait and retry, or fail with ``EAGAIN`` for ``O_NONBLOCK``.
"""

from __future__ import annotations

PIPE_BUF = 4096
DEFAULT_CAPACITY = 65536
MAX_CAPACITY = 1 << 20


class PipeBuffer:
    __slots__ = ("capacity", "data", "readers", "writers")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.data = bytearray()  # the bytes buffered (read directly by readiness checks)
        self.capacity = capacity
        self.readers = 0
        self.writers = 0

    def __len__(self) -> int:
        return len(self.data)

    @property
    def room(self) -> int:
        return self.capacity - len(self.data)

    def write(self, data: bytes | memoryview) -> int:
        """Append what the rules allow now; returns the byte count (0: must wait)."""
        n = len(data)
        room = self.capacity - len(self.data)
        if n <= room:
            self.data += data
            return n
        if n <= PIPE_BUF:
            return 0
        self.data += data[:room]
        return room

    def read_into(self, view: memoryview) -> int:
        """Move up to ``len(view)`` bytes out; returns the count (0: empty)."""
        n = min(len(view), len(self.data))
        view[:n] = self.data[:n]
        del self.data[:n]
        return n

    def readable(self) -> bool:
        """A read would not wait: data is there, or no writer remains (EOF)."""
        return bool(self.data) or self.writers == 0

    def writable(self, size: int = 1) -> bool:
        """A write of ``size`` bytes would make progress (or fail at once: no reader)."""
        if self.readers == 0:
            return True
        return self.room >= min(size, PIPE_BUF) if size <= PIPE_BUF else self.room > 0

    def resize(self, capacity: int) -> int:
        """``F_SETPIPE_SZ``: a page multiple, at least what is buffered; returns the new size."""
        size = max(4096, -(-capacity // 4096) * 4096)
        if size > MAX_CAPACITY or size < len(self.data):
            raise ValueError("bad pipe size")
        self.capacity = size
        return size
