"""A cursor over the wasm binary format's primitives (LEB128 integers, names, limits).

Used by the checks of a linked module (``validate.py``) and by the signal-poll pass
(``signal_poll.py``); each subclass names the exception a truncated or malformed input raises.
"""

from __future__ import annotations

from typing import ClassVar


class WasmReader:
    """Reads ``data[pos:end]`` forward; running past ``end`` raises :attr:`error`."""

    __slots__ = ("data", "end", "pos")
    error: ClassVar[type[Exception]] = ValueError

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise self.error("truncated wasm module")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def sleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result - (1 << shift) if b & 0x40 else result

    def skip_leb(self) -> None:
        while self.byte() & 0x80:
            pass

    def name(self) -> str:
        n = self.uleb()
        if self.pos + n > self.end:
            raise self.error("truncated wasm module")
        s = self.data[self.pos : self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def limits(self) -> tuple[int, int | None, bool]:
        """A memory's or table's limits: (minimum, maximum or None, shared)."""
        flags = self.byte()
        minimum = self.uleb()
        maximum = self.uleb() if flags & 1 else None
        return minimum, maximum, bool(flags & 2)
