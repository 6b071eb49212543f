"""``proc.stdin``/``proc.stdout``/``proc.stderr``: asyncio's stream interface over a cage's pipes.

:class:`CageStreamReader` wraps an :class:`asyncio.StreamReader` (fed by ``pipes.PipeSink``) and
:class:`CageStreamWriter` a ``pipes.PipeSource``; both forward to the runtime loop through the
bridge, so the same object works under asyncio, uvloop and trio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from lind_async.embed.bridge import Bridge
from lind_async.embed.pipes import PipeSink, PipeSource


class CageStreamReader:
    """Reads what a cage writes to its stdout or stderr (as ``asyncio.StreamReader``)."""

    def __init__(self, sink: PipeSink, bridge: Bridge) -> None:
        self._sink = sink
        self._reader: asyncio.StreamReader = sink.reader
        self._bridge = bridge

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (``-1``: everything until end-of-file); ``b""`` at end-of-file."""
        return await self._bridge.run(lambda: self._reader.read(n))

    async def readline(self) -> bytes:
        return await self._bridge.run(self._reader.readline)

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or ``asyncio.IncompleteReadError`` at end-of-file."""
        return await self._bridge.run(lambda: self._reader.readexactly(n))

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        return await self._bridge.run(lambda: self._reader.readuntil(separator))

    def at_eof(self) -> bool:
        return self._reader.at_eof()

    def __aiter__(self) -> CageStreamReader:
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    def close(self) -> None:
        """Stop reading: the cage's further writes fail with ``EPIPE`` (and ``SIGPIPE``)."""
        self._bridge.post(self._sink.release)


class CageStreamWriter:
    """Writes to a cage's stdin (as ``asyncio.StreamWriter``)."""

    def __init__(self, source: PipeSource, bridge: Bridge) -> None:
        self._source = source
        self._bridge = bridge
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        chunk = bytes(data)
        self._bridge.post(lambda: self._source.write(chunk))

    def writelines(self, data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(data))

    async def drain(self) -> None:
        """Wait until the buffered data is down to the high-water mark; ``BrokenPipeError`` if
        the cage no longer reads its stdin."""
        await self._bridge.run(self._source.drain)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.close()

    def close(self) -> None:
        """End the input: the cage reads end-of-file once everything written has gone in."""
        self._closing = True
        self._bridge.post(self._source.close)

    def is_closing(self) -> bool:
        return self._closing or self._source.is_closing()

    async def wait_closed(self) -> None:
        await self._bridge.run(self._source.wait_closed)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    @property
    def transport(self) -> None:
        return None
