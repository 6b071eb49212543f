"""The only bounds-checked accessors of a cage's linear memory.

Theory of operation
-------------------
A guest pointer is a 32-bit offset into the cage's linear memory that arrives in a 64-bit syscall
slot. Every (addr, length) pair a syscall handler touches goes through :class:`GuestMemory`, which
rejects it with ``EFAULT`` unless ``0 <= addr`` and ``addr + length <= current size`` — computed on
Python integers, so nothing wraps at 2**32 or 2**64.

The null page. Address 0 is ordinary memory in wasm32 (the deepest end of the main stack, which a
program only reaches past its 8 MiB), but on Linux page 0 is never mapped, so a call handed a NULL
(or near-NULL) buffer fails with ``EFAULT`` and programs rely on it. Guest accesses of one byte or
more inside ``[0, NULL_PAGE)`` are therefore ``EFAULT`` here too; an empty range anywhere is fine
(Linux's ``access_ok`` of length 0). :meth:`GuestMemory.host_range` — the runtime's own copies,
fork's page copy — is not limited by it.

Access is zero-copy: one ``memoryview`` over the host mapping of the memory (it never moves: the
memory is a wasm *shared* memory, reserved at its maximum size up front). Linear memory only
grows, so a cached size is a conservative bound: when a check fails against it, the real size is
read once more (the guest may have run ``memory.grow`` itself) and the view re-derived.

The compiled syscall trampoline (``native/syscall_entry.c``) makes the same check for the few
calls it answers itself: it reads a ``GuestMemory``'s ``_base``, ``_size`` and ``_low`` slots
(exactly these, by name) and declines the call, leaving it to Python, whenever
``addr < _low or addr + length > _size``.

Per-call copy budgets stop a guest from making the host allocate without bound: reads that build
host ``bytes`` are capped by callers through ``max_copy``.

Host addresses. A few callers must hand the host a raw address inside linear memory (``mmap``
with ``MAP_FIXED`` over it, ``madvise``, ``msync``, ``mincore``, ``memmove``, the futex key).
They get it from :meth:`GuestMemory.host_range` only, which applies the same check first: a
hostile ``(addr, n)`` is ``EFAULT``, never an address outside this memory. The memory's host
base itself is not exposed; nothing outside this package adds a guest address to it.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from typing import Protocol

from lind_async.abi.errno import EFAULT, ENAMETOOLONG, GuestError
from lind_async.abi.flags import PATH_MAX

_ADDR_LIMIT = 1 << 32
NULL_PAGE = 4096  # guest accesses below it are EFAULT, as page 0 is unmapped on Linux


class LinearMemory(Protocol):
    """What the accessor needs from the runtime's memory handle."""

    @property
    def base(self) -> int: ...

    def size(self) -> int: ...


def _fault() -> GuestError:
    return GuestError(EFAULT)


class GuestMemory:
    """Bounds-checked, zero-copy view of one cage's linear memory."""

    __slots__ = ("_base", "_low", "_mem", "_size", "_size_of", "view")

    def __init__(self, memory: LinearMemory, *, null_page: int = NULL_PAGE) -> None:
        """``null_page``: guest accesses below it are ``EFAULT`` (every cage's memory keeps the
        default; tests of other properties may use plain memory from address 0)."""
        self._mem = memory
        self._low = null_page
        self._base = memory.base
        self._size_of: Callable[[], int] = memory.size
        self._size = -1
        self.view: memoryview = memoryview(b"")
        self._refresh()

    def _refresh(self) -> None:
        size = self._size_of()
        if size != self._size:
            self._size = size
            array = (ctypes.c_ubyte * size).from_address(self._base)
            self.view = memoryview(array).cast("B")

    @property
    def handle(self) -> object:
        """The memory handle this accessor is over (its identity: several accessors and
        instances may share one memory)."""
        return self._mem

    @property
    def size(self) -> int:
        self._refresh()
        return self._size

    def check(self, addr: int, length: int) -> None:
        """Raise ``EFAULT`` unless ``[addr, addr+length)`` lies inside linear memory and, when
        not empty, outside the null page."""
        if addr < self._low or length < 0 or addr + length > self._size:
            if length < 0 or addr < 0 or addr >= _ADDR_LIMIT or (addr < self._low and length):
                raise _fault()
            if addr + length > self._size:
                self._refresh()
                if addr + length > self._size:
                    raise _fault()

    def host_range(self, addr: int, length: int) -> int:
        """The host address of guest ``addr``, once ``[addr, addr+length)`` is checked to lie
        inside linear memory (``EFAULT`` otherwise; the null page included, see the module
        docstring). ``[result, result+length)`` is then a host range wholly inside this memory
        (stable: shared memories never move)."""
        if length < 0 or addr < 0 or addr + length > self._size:
            self.check(addr, length)
        return self._base + addr

    def slice(self, addr: int, length: int) -> memoryview:
        """A writable zero-copy window onto guest bytes (valid until the next await)."""
        self.check(addr, length)
        return self.view[addr : addr + length]

    def buffer(self, addr_slot: int, count_slot: int, cap: int) -> memoryview:
        """:meth:`slice` of a ``(void *buf, size_t count)`` pair straight from their raw 64-bit
        syscall slots, ``count`` capped at ``cap``: ``pointer``'s and ``size_t``'s decoding and
        the check in one call, for the hottest handlers (``read``/``write``). A slot that is no
        32-bit pointer decodes to an address past every memory, as ``pointer`` does."""
        addr = addr_slot & 0xFFFFFFFFFFFFFFFF
        if addr >= 0xFFFFFFFF80000000:  # a sign-extended 32-bit pointer
            addr &= 0xFFFFFFFF
        length = count_slot & 0xFFFFFFFF
        if length > cap:
            length = cap
        end = addr + length
        if addr < self._low or end > self._size:
            self.check(addr, length)
        return self.view[addr:end]

    def read(self, addr: int, length: int) -> bytes:
        self.check(addr, length)
        return bytes(self.view[addr : addr + length])

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        self.check(addr, n)
        self.view[addr : addr + n] = data

    def fill(self, addr: int, length: int, byte: int = 0) -> None:
        self.check(addr, length)
        ctypes.memset(self._base + addr, byte, length)

    def unpack(self, fmt: struct.Struct, addr: int) -> tuple[int, ...]:
        self.check(addr, fmt.size)
        return fmt.unpack_from(self.view, addr)

    def pack(self, fmt: struct.Struct, addr: int, *values: int | bytes) -> None:
        self.check(addr, fmt.size)
        fmt.pack_into(self.view, addr, *values)

    def read_u32(self, addr: int) -> int:
        return self.unpack(_U32, addr)[0]

    def read_u64(self, addr: int) -> int:
        return self.unpack(_U64, addr)[0]

    def write_u32(self, addr: int, value: int) -> None:
        self.pack(_U32, addr, value & 0xFFFFFFFF)

    def write_u64(self, addr: int, value: int) -> None:
        self.pack(_U64, addr, value & 0xFFFFFFFFFFFFFFFF)

    def read_cstring(self, addr: int, max_len: int = PATH_MAX) -> bytes:
        """A NUL-terminated string of at most ``max_len`` bytes (NUL included), else ENAMETOOLONG.

        Stops at the end of readable memory with ``EFAULT`` (never reads past it).
        """
        if addr < self._low or addr >= self._size:
            if addr < self._low:
                raise _fault()
            self.check(addr, 0)
            self._refresh()
            if addr >= self._size:
                raise _fault()
        end = addr + max_len
        if end > self._size:
            end = self._size
        view = self.view
        # bytes.find on a bounded copy is far faster than a Python loop; most strings are
        # short, so a short copy is tried first.
        if end - addr > _SHORT_STRING:
            chunk = view[addr : addr + _SHORT_STRING].tobytes()
            nul = chunk.find(0)
            if nul >= 0:
                return chunk[:nul]
        chunk = view[addr:end].tobytes()
        nul = chunk.find(0)
        if nul >= 0:
            return chunk[:nul]
        if end - addr >= max_len:
            raise GuestError(ENAMETOOLONG)
        raise _fault()


_SHORT_STRING = 256
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

