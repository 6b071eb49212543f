"""A cage in a pool worker, as the embedder sees it: :class:`PoolProcess` and its streams.

Theory of operation
-------------------
The same interface as :class:`lind_async.CageProcess` (``asyncio.subprocess.Process``'s), kept
on the pool's side of the wire from the frames its worker sends (``wire.py``): the client's
reader task calls the ``_on_*`` methods, everything else is the embedder's tasks. It is anyio
code, so it runs on asyncio, uvloop and trio alike, with no runtime thread.

- stdout/stderr (:class:`PoolStreamReader`) buffer what arrives and grant the worker credit for
  what the embedder consumes, so a reader that stops reading stops the cage's writes.
- stdin (:class:`PoolStreamWriter`) sends at once; ``drain`` waits until the worker has put all
  but :data:`HIGH_WATER` bytes into the cage's pipe.
- Cancelling ``wait()``/``communicate()`` kills the cage and its family (``KILL_ALL``) and waits,
  shielded, until the worker says it is done, as the embedding API does.
- A lost worker (:meth:`_lost`) ends everything: the return code is negative (the signal that
  killed the worker, else ``SIGKILL``), :attr:`PoolProcess.error` says what happened, the
  readers see end-of-file and the writer ``BrokenPipeError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import anyio

from lind_async.pool import wire

HIGH_WATER = 1 << 16
MAX_CHUNK = 1 << 20


class WorkerLost(RuntimeError):
    """The worker process (or Ray actor) running a cage died; the cage is gone with it."""


Send = Callable[[bytes], None]


class PoolStreamReader:
    """Reads what a cage writes to its stdout or stderr (as ``asyncio.StreamReader``)."""

    def __init__(self, send: Send, channel: int, stream: int, limit: int) -> None:
        self._send = send
        self._channel = channel
        self._stream = stream
        self._limit = limit
        self._buf = bytearray()
        self._eof = False
        self._closed = False
        self._wake = anyio.Event()
        self._allowance = 2 * limit  # the credit the worker has (server.py starts it there)

    # -- from the wire
    def _feed(self, data: bytes) -> None:
        self._allowance -= len(data)
        if self._allowance < 0 or self._eof:
            raise wire.CorruptFrame("output beyond the credit given, or after end-of-file")
        if self._closed:
            return
        self._buf += data
        self._wake.set()

    def _feed_eof(self) -> None:
        self._eof = True
        self._wake.set()

    # -- for the embedder
    async def _more(self) -> None:
        """Wait until more data or end-of-file arrives."""
        if self._eof:
            return
        self._wake = anyio.Event()
        await self._wake.wait()

    def _take(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        if data and not self._eof and not self._closed:
            self._allowance += len(data)
            self._send(wire.frame(wire.CREDIT, self._channel,
                                  wire.CREDIT_MSG.pack(self._stream, len(data))))
        return data

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (``-1``: everything until end-of-file); ``b""`` at end-of-file."""
        if n == 0:
            return b""
        if n < 0:
            parts = []
            while True:
                if self._buf:
                    parts.append(self._take(len(self._buf)))
                if self._eof:
                    return b"".join(parts)
                await self._more()
        while not self._buf and not self._eof:
            await self._more()
        return self._take(n)

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or ``asyncio.IncompleteReadError`` at end-of-file."""
        while len(self._buf) < n:
            if self._eof:
                partial = self._take(len(self._buf))
                raise asyncio.IncompleteReadError(partial, n)
            await self._more()
        return self._take(n)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        if not separator:
            raise ValueError("Separator should be at least one-byte string")
        start = 0
        while True:
            found = self._buf.find(separator, start)
            if found >= 0:
                end = found + len(separator)
                if end > self._limit:
                    raise asyncio.LimitOverrunError(
                        "Separator is found, but chunk is longer than limit", end)
                return self._take(end)
            if len(self._buf) > self._limit:
                raise asyncio.LimitOverrunError(
                    "Separator is not found, and chunk exceed the limit", len(self._buf))
            if self._eof:
                partial = self._take(len(self._buf))
                raise asyncio.IncompleteReadError(partial, None)
            start = max(0, len(self._buf) - len(separator) + 1)
            await self._more()

    async def readline(self) -> bytes:
        try:
            return await self.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial
        except asyncio.LimitOverrunError as exc:
            if self._buf.startswith(b"\n", exc.consumed):
                self._take(exc.consumed + 1)
            else:
                self._take(len(self._buf))
            raise ValueError(exc.args[0]) from None

    def at_eof(self) -> bool:
        return self._eof and not self._buf

    def __aiter__(self) -> PoolStreamReader:
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    def close(self) -> None:
        """Stop reading: the cage's further writes fail with ``EPIPE`` (and ``SIGPIPE``)."""
        if not self._closed and not self._eof:
            self._send(wire.frame(wire.CLOSE_READ, self._channel, bytes((self._stream,))))
        self._closed = True
        self._buf.clear()


class PoolStreamWriter:
    """Writes to a cage's stdin (as ``asyncio.StreamWriter``)."""

    def __init__(self, send: Send, channel: int) -> None:
        self._send = send
        self._channel = channel
        self._unacked = 0
        self._broken = False
        self._closing = False
        self._wake = anyio.Event()

    def _on_ack(self, n: int) -> None:
        self._unacked -= n
        self._wake.set()

    def _on_broken(self) -> None:
        self._broken = True
        self._wake.set()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            raise RuntimeError("the cage's stdin is closed")
        view = memoryview(data).cast("B")
        for start in range(0, len(view), MAX_CHUNK):
            chunk = view[start : start + MAX_CHUNK]
            self._unacked += len(chunk)
            self._send(wire.frame(wire.STDIN, self._channel, chunk))

    def writelines(self, data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(data))

    async def drain(self) -> None:
        """Wait until the buffered data is down to the high-water mark; ``BrokenPipeError`` if
        the cage no longer reads its stdin."""
        while not self._broken and self._unacked > HIGH_WATER:
            self._wake = anyio.Event()
            await self._wake.wait()
        if self._broken:
            raise BrokenPipeError("the cage no longer reads its stdin")

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.close()

    def close(self) -> None:
        """End the input: the cage reads end-of-file once everything written has gone in."""
        if not self._closing:
            self._closing = True
            self._send(wire.frame(wire.STDIN_EOF, self._channel))

    def is_closing(self) -> bool:
        return self._closing or self._broken

    async def wait_closed(self) -> None:
        while not self._broken and self._unacked > 0:
            self._wake = anyio.Event()
            await self._wake.wait()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    @property
    def transport(self) -> None:
        return None


class PoolProcess:
    """A cage started by ``Pool.create_cage_exec`` (shaped like ``asyncio.subprocess.Process``)."""

    def __init__(
        self, send: Send, channel: int, stdio: tuple[bool, bool, bool], limit: int, worker: int
    ) -> None:
        self._send = send
        self._channel = channel
        self.worker = worker
        """The index of the pool worker it runs in."""
        self.pid: int = 0
        """The cage id (its pid inside its worker's microvisor)."""
        self.error: WorkerLost | None = None
        """Why the cage ended without an exit of its own (its worker was lost), else None."""
        self._returncode: int | None = None
        self.stdin = PoolStreamWriter(send, channel) if stdio[0] else None
        self.stdout = PoolStreamReader(send, channel, wire.STDOUT, limit) if stdio[1] else None
        self.stderr = PoolStreamReader(send, channel, wire.STDERR, limit) if stdio[2] else None
        self._spawned = anyio.Event()
        self._spawn_error: BaseException | None = None
        self._exited = anyio.Event()
        self._kill_waiters: deque[anyio.Event] = deque()
        self._register: Callable[[], None] = lambda: None
        self._alone = False  # exited, and nothing it started was running then

    def __repr__(self) -> str:
        return f"<PoolProcess {self.pid} worker={self.worker} returncode={self.returncode}>"

    @property
    def returncode(self) -> int | None:
        """``None`` while running; the exit code, or ``-N`` when killed by signal ``N``."""
        return self._returncode

    # -- from the wire
    def _on_spawned(self, pid: int) -> None:
        self.pid = pid
        self._spawned.set()

    def _on_error(self, exc: BaseException) -> None:
        self._spawn_error = exc
        self._spawned.set()

    def _on_output(self, stream: int, data: bytes) -> None:
        reader = self.stdout if stream == wire.STDOUT else self.stderr
        if reader is not None:
            reader._feed(data)

    def _on_output_eof(self, stream: int) -> None:
        reader = self.stdout if stream == wire.STDOUT else self.stderr
        if reader is not None:
            reader._feed_eof()

    def _on_exit(self, code: int, alone: bool) -> None:
        self._alone = alone
        self._returncode = code
        self._exited.set()

    def _lost(self, error: WorkerLost, code: int) -> None:
        if not self._spawned.is_set():
            self._on_error(error)
        if self._returncode is None:
            self.error = error
            self._returncode = code
        for reader in (self.stdout, self.stderr):
            if reader is not None:
                reader._feed_eof()
        if self.stdin is not None:
            self.stdin._on_broken()
        self._exited.set()
        while self._kill_waiters:
            self._kill_waiters.popleft().set()

    @property
    def done(self) -> bool:
        """Exited and its outputs read to the end (the pool may forget it)."""
        return self._exited.is_set() and all(
            r is None or r._eof or r._closed for r in (self.stdout, self.stderr)
        )

    async def _wait_spawned(self) -> None:
        try:
            await self._spawned.wait()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._spawned.wait()
                if self._spawn_error is None:
                    await self._kill_all()
            raise
        if self._spawn_error is not None:
            raise self._spawn_error

    # -- for the embedder
    async def wait(self) -> int:
        """Wait for the cage to exit; returns :attr:`returncode`. Cancelling the wait kills the
        cage and everything it started."""
        try:
            await self._exited.wait()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._kill_all()
            raise
        assert self._returncode is not None
        return self._returncode

    async def communicate(self, input: bytes | None = None) -> tuple[bytes | None, bytes | None]:
        """Send ``input`` to stdin (then close it), read stdout and stderr to end-of-file, wait
        for the exit; returns ``(stdout, stderr)`` (``None`` for streams that are not ``PIPE``).
        Cancelling it kills the cage and everything it started."""
        results: list[bytes | None] = [None, None]

        async def read(i: int, reader: PoolStreamReader | None) -> None:
            if reader is not None:
                results[i] = await reader.read()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(read, 0, self.stdout)
                tg.start_soon(read, 1, self.stderr)
                if self.stdin is not None:
                    if input:
                        self.stdin.write(input)
                        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                            await self.stdin.drain()
                    self.stdin.close()
            await self._exited.wait()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._kill_all()
            raise
        return results[0], results[1]

    def send_signal(self, sig: int) -> None:
        """Post signal ``sig`` to the cage (``ProcessLookupError`` if it has exited)."""
        if self._returncode is not None:
            raise ProcessLookupError(f"cage {self.pid} has exited")
        self._send(wire.int_frame(wire.SIGNAL, self._channel, int(sig)))

    def terminate(self) -> None:
        """``SIGTERM``."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """``SIGKILL``."""
        self.send_signal(signal.SIGKILL)

    async def kill_all(self) -> None:
        """Kill the cage and every process it started; returns once all are gone."""
        with anyio.CancelScope(shield=True):
            await self._kill_all()

    async def _kill_all(self) -> None:
        if self.error is None and not self._alone:  # (alone: nothing left to kill)
            self._register()  # the pool may have forgotten an exited cage
            done = anyio.Event()
            self._kill_waiters.append(done)
            self._send(wire.frame(wire.KILL_ALL, self._channel))
            await done.wait()
        for reader in (self.stdout, self.stderr):
            if reader is not None:
                reader.close()

    def _on_killed(self) -> None:
        if self._kill_waiters:
            self._kill_waiters.popleft().set()
