"""Decoding guest pointers: the pointer slot itself, and pointers stored in guest structs
(``iovec`` arrays, NULL-terminated pointer vectors, pointers inside a ``msghdr``).

Theory of operation
-------------------
A syscall's pointer argument arrives in a 64-bit slot, sign- or zero-extended by the guest;
:func:`pointer` turns it into a 32-bit offset, or into a value that fails every bounds check.

During a call made on another cage's behalf the runtime tags a foreign pointer argument as
``key << 32 | offset`` (:mod:`lind_async.memory.composite`). A pointer *stored inside* the
struct such an argument points to is a plain 32-bit guest value in the same memory, so it
inherits the struct's segment (:func:`segment_of`, :func:`inner`); it can never name another
memory. A guest pointer read from memory is at most 32 bits, so ``segment | value`` stays in
the segment.

Counts and lengths read from the guest are hostile: a count is checked against its limit
before any array is read, the array is bounds-checked as a whole before its first element is
decoded, each buffer is checked by the accessor, and running totals are capped, so a guest
cannot make the host loop, allocate or address without bound.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, Protocol

from lind_async.abi.errno import E2BIG, EINVAL, GuestError

SEGMENT_MASK = ~0xFFFFFFFF
IOVEC = struct.Struct("<II")  # struct iovec on wasm32: iov_base, iov_len


class Accessor(Protocol):
    """What decoding needs of a memory (:class:`GuestMemory` or :class:`CompositeMemory`)."""

    def check(self, addr: int, length: int) -> None: ...

    def slice(self, addr: int, length: int) -> memoryview: ...

    def unpack(self, fmt: struct.Struct, addr: int) -> tuple[Any, ...]: ...

    def read_u32(self, addr: int) -> int: ...


def pointer(arg: int) -> int:
    """Decode a pointer argument from a 64-bit syscall slot (accepting sign or zero extension).

    Anything that is not a 32-bit offset becomes an address that fails every bounds check.
    """
    value = arg & 0xFFFFFFFFFFFFFFFF
    if value >= 0xFFFFFFFF80000000:  # a sign-extended 32-bit pointer
        value &= 0xFFFFFFFF
    return value


def segment_of(addr: int) -> int:
    """The segment (upper half) a struct at ``addr`` lives in: 0 for the cage's own memory."""
    return addr & SEGMENT_MASK


def inner(segment: int, value: int) -> int:
    """A pointer field read from a struct in ``segment``; NULL stays NULL (an absent field)."""
    return segment | value if value else 0


def iovec_entries(mem: Accessor, iov: int, count: int) -> list[tuple[int, int]]:
    """The ``(address, length)`` pairs of the ``count`` iovecs at ``iov`` (``count`` already
    checked by the caller against its limit), each address in the array's segment."""
    mem.check(iov, count * IOVEC.size)  # the whole array first: a huge count faults here
    segment = segment_of(iov)
    entries = []
    for i in range(count):
        addr, length = mem.unpack(IOVEC, iov + i * IOVEC.size)
        entries.append((segment | addr, length))
    return entries


def iovecs(mem: Accessor, iov: int, count: int, *, limit: int, too_many: int,
           max_total: int) -> list[memoryview]:
    """Zero-copy views of the buffers of ``count`` iovecs at ``iov``: ``too_many`` (an errno)
    unless ``0 <= count <= limit``, ``EINVAL`` once the lengths add up past ``max_total``,
    ``EFAULT`` for an array or buffer outside memory."""
    if not 0 <= count <= limit:
        raise GuestError(too_many)
    views = []
    total = 0
    for addr, length in iovec_entries(mem, iov, count):
        total += length
        if total > max_total:
            raise GuestError(EINVAL)
        views.append(mem.slice(addr, length))
    return views


def pointer_vector(mem: Accessor, addr: int, limit: int) -> Iterator[int]:
    """The entries of the NULL-terminated pointer array (``char *argv[]``) at ``addr``, one at a
    time, each in the array's segment; ``E2BIG`` past ``limit`` entries."""
    segment = segment_of(addr)
    i = 0
    while True:
        if i >= limit:
            raise GuestError(E2BIG)
        value = mem.read_u32(addr + 4 * i)
        if value == 0:
            return
        yield segment | value
        i += 1
