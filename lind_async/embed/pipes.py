"""The host's ends of a cage's stdio pipes: in-process pipes, no host fds at all.

Theory of operation
-------------------
``PIPE`` stdio is an ordinary in-process pipe (``rawposix/pipe.py``): the cage's fd holds one end,
a :class:`~lind_async.rawposix.pipe.PipeEnd`, exactly as a pipe between two cages. The host holds
the other :class:`PipeEnd` object but never installs it in an fd table; it moves bytes through the
pipe's buffer directly and learns of changes from the pipe's wait-queue *watchers* (the same hook
``poll`` uses), so the host side never blocks and never needs a task of its own:

- :class:`PipeSink` (the cage writes, the host reads: stdout/stderr) feeds an
  :class:`asyncio.StreamReader`. A watcher on the pipe's ``can_read`` queue schedules a pump that
  moves what is buffered into the reader and wakes cage writers waiting for room. When the reader
  holds more than twice its limit it pauses the pump (``pause_reading``), so a host that does not
  read makes the pipe fill and the cage's ``write`` wait, as with a real pipe. End-of-file comes
  when the pipe is empty and the cage side has no writer left (every process holding it exited
  or closed it).
- :class:`PipeSource` (the host writes, the cage reads: stdin) keeps what the pipe cannot take yet
  in a host buffer and pushes more whenever the ``can_write`` watcher fires. ``drain`` waits while
  that buffer is above the high-water mark; ``close`` releases the write end once it is flushed, so
  the cage reads end-of-file. With no reader left, writes fail with ``BrokenPipeError``.

Watchers fire inside the cage's system call (on its fiber's native stack): the callbacks only
schedule the pump with ``call_soon``, which also batches many small cage writes into one pump.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lind_async.rawposix.pipe import new_pipe

CHUNK = 1 << 16
HIGH_WATER = 1 << 16
READ_LIMIT = 1 << 16  # asyncio's default StreamReader limit


class PipeSink:
    """The host's read end of a cage's output pipe, feeding an ``asyncio.StreamReader``.

    It doubles as the reader's transport (``pause_reading``/``resume_reading``) for flow control.
    """

    def __init__(self, *, limit: int = READ_LIMIT) -> None:
        self.host_end, self.cage_end = new_pipe()
        self.loop = asyncio.get_running_loop()
        self.reader = asyncio.StreamReader(limit=limit, loop=self.loop)
        self.reader.set_transport(self)  # type: ignore[arg-type]
        self._paused = False
        self._scheduled = False
        self._released = False
        self._cancel_watch = self.host_end.pipe.can_read.watchers.add(self._wake)

    # -- the StreamReader's transport ----------
    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        self._paused = False
        self._wake()

    def is_closing(self) -> bool:
        return self._released

    def close(self) -> None:
        self.release()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    # -- pumping ----------
    def _wake(self) -> None:
        if not self._scheduled and not self._released:
            self._scheduled = True
            self.loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._scheduled = False
        if self._released:
            return
        pipe = self.host_end.pipe
        buffer = pipe.buffer
        moved = False
        while len(buffer) and not self._paused:
            chunk = bytearray(min(len(buffer), CHUNK))
            n = buffer.read_into(memoryview(chunk))
            del chunk[n:]
            self.reader.feed_data(bytes(chunk))
            moved = True
        if moved:
            pipe.can_write.wake_all()  # cage writers waiting for room
        if not len(buffer) and buffer.writers == 0:
            self.reader.feed_eof()
            self.release()

    def release(self) -> None:
        """Give up the host's end (idempotent): cage writers then get ``EPIPE``."""
        if self._released:
            return
        self._released = True
        self._cancel_watch()
        self.host_end.release()
        if not self.reader.at_eof():
            self.reader.feed_eof()


class PipeSource:
    """The host's write end of a cage's input pipe (``StreamWriter``-like, loop side)."""

    def __init__(self) -> None:
        self.cage_end, self.host_end = new_pipe()
        self.loop = asyncio.get_running_loop()
        self._pending = bytearray()
        self._closing = False
        self._released = False
        self._scheduled = False
        self._broken = False
        self._progress: asyncio.Future[None] | None = None
        self._cancel_watch = self.host_end.pipe.can_write.watchers.add(self._wake)

    @property
    def buffered(self) -> int:
        return len(self._pending)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            raise RuntimeError("write() after close()")
        if self._broken:
            return  # like a transport whose connection is lost: drain() reports it
        self._pending += data
        self._flush()

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True
        self._flush()

    async def drain(self) -> None:
        while True:
            if self._broken:
                raise BrokenPipeError("the cage closed its standard input")
            if len(self._pending) <= HIGH_WATER:
                return
            await self._wait_progress()

    async def wait_closed(self) -> None:
        while not self._released:
            await self._wait_progress()

    async def _wait_progress(self) -> None:
        if self._progress is None or self._progress.done():
            self._progress = self.loop.create_future()
        await asyncio.shield(self._progress)

    def _wake(self) -> None:
        if not self._scheduled and not self._released:
            self._scheduled = True
            self.loop.call_soon(self._run_flush)

    def _run_flush(self) -> None:
        self._scheduled = False
        self._flush()

    def _flush(self) -> None:
        if self._released:
            return
        pipe = self.host_end.pipe
        buffer = pipe.buffer
        if buffer.readers == 0:
            self._broken = True
            self._pending.clear()
        moved = 0
        while self._pending:
            n = buffer.write(memoryview(self._pending)[:CHUNK])
            if not n:
                break
            del self._pending[:n]
            moved += n
        if moved:
            pipe.can_read.wake_all()
        if self._closing and not self._pending:
            self.release()
        self._signal_progress()

    def _signal_progress(self) -> None:
        if self._progress is not None and not self._progress.done():
            self._progress.set_result(None)

    def release(self) -> None:
        """Give up the host's end (idempotent): the cage reads end-of-file."""
        if self._released:
            return
        self._released = True
        self._closing = True
        self._pending.clear()
        self._cancel_watch()
        self.host_end.release()
        self._signal_progress()
