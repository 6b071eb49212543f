"""The memory a system call made on another cage's behalf sees: several cages' memories, one
address space.

Theory of operation
-------------------
When a grate forwards a call to RawPOSIX on behalf of cage T (runtime/threei_calls.py), its
pointer arguments may point into different memories: T's own, the grate's, a third cage's. The
runtime rewrites each foreign pointer to ``key << 32 | offset`` and builds a
:class:`CompositeMemory`: addresses below 4 GiB are T's memory (``target``), an address whose
upper half is a ``key`` of ``segments`` is that offset in that memory, and any other upper half
is ``EFAULT``. Each access is then the owning :class:`~lind_async.memory.access.GuestMemory`'s,
with its bounds check: a segment's offset never spills into another segment or memory.

How keys are chosen (so that no untouched guest value selects a memory) is the runtime's rule;
this class only resolves them. A pointer stored *inside* a struct read through a segment lives
in the same segment (:mod:`lind_async.memory.pointers`).
"""

from __future__ import annotations

import struct
from typing import Any

from lind_async.abi.errno import EFAULT, GuestError
from lind_async.abi.flags import PATH_MAX
from lind_async.memory.access import GuestMemory
from lind_async.memory.pointers import pointer

_LOW = 0xFFFFFFFF


class CompositeMemory:
    """``target`` below 4 GiB; ``key << 32 | offset`` addresses ``segments[key]``. Any other
    upper half is ``EFAULT``. Offers :class:`GuestMemory`'s interface."""

    __slots__ = ("_segments", "_target")

    def __init__(self, target: GuestMemory, segments: dict[int, GuestMemory]) -> None:
        self._target = target
        self._segments = segments

    def _at(self, addr: int) -> tuple[GuestMemory, int]:
        key = addr >> 32
        if key == 0:
            return self._target, addr
        mem = self._segments.get(key)
        if mem is None:
            raise GuestError(EFAULT)
        return mem, addr & _LOW

    @property
    def size(self) -> int:
        return self._target.size

    def check(self, addr: int, length: int) -> None:
        mem, at = self._at(addr)
        mem.check(at, length)

    def host_range(self, addr: int, length: int) -> int:
        mem, at = self._at(addr)
        return mem.host_range(at, length)

    def slice(self, addr: int, length: int) -> memoryview:
        mem, at = self._at(addr)
        return mem.slice(at, length)

    def buffer(self, addr_slot: int, count_slot: int, cap: int) -> memoryview:
        """:meth:`GuestMemory.buffer`: the upper half of the pointer slot picks the memory."""
        return self.slice(pointer(addr_slot), min(count_slot & 0xFFFFFFFF, cap))

    def read(self, addr: int, length: int) -> bytes:
        mem, at = self._at(addr)
        return mem.read(at, length)

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        mem, at = self._at(addr)
        mem.write(at, data)

    def fill(self, addr: int, length: int, byte: int = 0) -> None:
        mem, at = self._at(addr)
        mem.fill(at, length, byte)

    def unpack(self, fmt: struct.Struct, addr: int) -> tuple[Any, ...]:
        mem, at = self._at(addr)
        return mem.unpack(fmt, at)

    def pack(self, fmt: struct.Struct, addr: int, *values: int | bytes) -> None:
        mem, at = self._at(addr)
        mem.pack(fmt, at, *values)

    def read_u32(self, addr: int) -> int:
        mem, at = self._at(addr)
        return mem.read_u32(at)

    def read_u64(self, addr: int) -> int:
        mem, at = self._at(addr)
        return mem.read_u64(at)

    def write_u32(self, addr: int, value: int) -> None:
        mem, at = self._at(addr)
        mem.write_u32(at, value)

    def write_u64(self, addr: int, value: int) -> None:
        mem, at = self._at(addr)
        mem.write_u64(at, value)

    def read_cstring(self, addr: int, max_len: int = PATH_MAX) -> bytes:
        mem, at = self._at(addr)
        return mem.read_cstring(at, max_len)
