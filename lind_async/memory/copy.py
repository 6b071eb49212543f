"""Copying the used parts of one linear memory into another (fork's child memory).

Theory of operation
-------------------
A fork child gets a new linear memory holding a copy of its parent's. Only the ranges the
caller names are copied (the parent's vmmap decides: static image, break, private mappings),
and of those only the host pages that were ever touched: ``/proc/self/pagemap`` says which
pages are present or swapped out, and the destination is fresh, so every page left out already
reads as zero. When pagemap cannot be read everything in range is copied.

Both ends of every range go through :meth:`GuestMemory.host_range` first: a range outside
either memory is ``EFAULT``, never a copy past it.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
from collections.abc import Iterable, Iterator

from lind_async.memory.access import GuestMemory

_HOST_PAGE = mmap.PAGESIZE
_TOUCHED = bytes(1 if b & 0xC0 else 0 for b in range(256))  # pagemap bit 63 present, 62 swapped


def copy_used(src: GuestMemory, dst: GuestMemory, ranges: Iterable[tuple[int, int]]) -> int:
    """Copy ``ranges`` (guest offsets ``[lo, hi)``) from ``src`` to the same offsets of ``dst``,
    skipping host pages never touched (``dst`` is fresh). Returns the bytes copied."""
    copied = 0
    with _pagemap() as fd:
        for lo, hi in ranges:
            if hi <= lo:
                continue
            start = src.host_range(lo, hi - lo)
            to = dst.host_range(lo, hi - lo)
            for a, b in _touched(fd, start, start + (hi - lo)):
                ctypes.memmove(to + (a - start), a, b - a)
                copied += b - a
    return copied


@contextlib.contextmanager
def _pagemap() -> Iterator[int | None]:
    try:
        fd: int | None = os.open("/proc/self/pagemap", os.O_RDONLY)
    except OSError:
        fd = None
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _touched(fd: int | None, lo: int, hi: int) -> Iterable[tuple[int, int]]:
    """Host address runs in ``[lo, hi)`` whose pages are present or swapped out (everything,
    when pagemap cannot be read)."""
    first = lo // _HOST_PAGE
    last = (hi + _HOST_PAGE - 1) // _HOST_PAGE
    flags = b""
    if fd is not None:
        try:
            flags = os.pread(fd, (last - first) * 8, first * 8)[7::8].translate(_TOUCHED)
        except OSError:
            flags = b""
    if len(flags) != last - first:
        yield lo, hi
        return
    i = flags.find(1)
    while i >= 0:
        j = flags.find(0, i)
        if j < 0:
            j = len(flags)
        yield max(lo, (first + i) * _HOST_PAGE), min(hi, (first + j) * _HOST_PAGE)
        i = flags.find(1, j)
