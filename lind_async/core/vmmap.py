"""A cage's virtual memory map inside its linear memory (page-granular, 4 KiB pages).

Theory of operation
-------------------
Linear memory is one flat range ``[0, limit)``. Like a process image it is carved into:

    [0, heap_start)        the module's static data and stack (never handed out)
    [heap_start, brk)      the program break, growing upward (``brk``)
    ... free ...
    mappings               ``mmap`` regions, placed top-down from ``limit`` (first fit from the top)

so ``brk`` and ``mmap`` grow toward each other as in a Linux process. ``brk`` may only move into
pages no mapping holds; ``mmap`` never places a mapping below the break. The map records protection
(``mprotect`` is recorded, not enforced: wasm has no page protection). Released ranges are
returned to the caller, which zeroes them, so every page a new mapping receives is zero.

A mapping may carry an opaque ``shared`` backing object (a ``MAP_SHARED`` anonymous mapping, see
rawposix/shm.py) and the ``offset`` into it of its first page; splits keep both consistent, and
the caller is told which pieces it released (:meth:`VmMap.unmap_pieces`).

Pure state, no I/O: the runtime grows the wasm memory and zeroes pages as this map tells it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from lind_async.abi.errno import EINVAL, ENOMEM, GuestError
from lind_async.abi.flags import PAGE_SIZE


@dataclass(slots=True)
class Mapping:
    start: int  # bytes, page aligned
    end: int  # bytes, exclusive, page aligned
    prot: int
    shared: object | None = None  # backing object of a MAP_SHARED mapping (rawposix/shm.py)
    offset: int = 0  # offset into ``shared`` of ``start``

    def piece(self, lo: int, hi: int, prot: int | None = None) -> Mapping:
        """``[lo, hi)`` of this mapping (same backing, offset adjusted)."""
        return Mapping(lo, hi, self.prot if prot is None else prot, self.shared,
                       self.offset + lo - self.start)


def page_up(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


class VmMap:
    """brk + mmap bookkeeping for one cage."""

    __slots__ = ("_maps", "_starts", "brk", "heap_start", "limit")

    def __init__(self, heap_start: int, limit: int) -> None:
        if limit % PAGE_SIZE or heap_start > limit:
            raise ValueError("bad vmmap bounds")
        self.heap_start = page_up(heap_start)
        self.brk = heap_start
        self.limit = limit
        self._maps: list[Mapping] = []  # sorted by start
        self._starts: list[int] = []

    # -- brk ---------------------------------------------------------------------------------
    def set_brk(self, new_brk: int) -> int:
        """Move the break if possible; returns the (possibly unchanged) break, as Linux does."""
        if new_brk < self.heap_start:
            return self.brk
        ceiling = self._starts[0] if self._starts else self.limit
        if page_up(new_brk) > ceiling:
            return self.brk
        self.brk = new_brk
        return self.brk

    # -- mmap ------------------------------------------------------------------------------------
    def map_anywhere(self, length: int, prot: int) -> int:
        """Reserve ``length`` bytes top-down; returns the start address (``ENOMEM`` if none)."""
        size = _length(length)
        floor = page_up(self.brk)
        top = self.limit
        for mapping in reversed(self._maps):
            if top - mapping.end >= size and top - size >= floor:
                return self._insert(top - size, top, prot)
            top = mapping.start
        if top - size >= floor:
            return self._insert(top - size, top, prot)
        raise GuestError(ENOMEM)

    def map_fixed(self, addr: int, length: int, prot: int) -> int:
        """Map exactly ``[addr, addr+length)``, replacing what was there (MAP_FIXED)."""
        size = _length(length)
        if addr % PAGE_SIZE or addr < self.heap_start or addr + size > self.limit:
            raise GuestError(EINVAL if addr % PAGE_SIZE else ENOMEM)
        if addr < page_up(self.brk):
            raise GuestError(ENOMEM)
        self.unmap(addr, size)
        return self._insert(addr, addr + size, prot)

    def unmap(self, addr: int, length: int) -> list[tuple[int, int]]:
        """Unmap any mapped pages in the range; returns the byte ranges actually released."""
        return [(m.start, m.end) for m in self.unmap_pieces(addr, length)]

    def unmap_pieces(self, addr: int, length: int) -> list[Mapping]:
        """:meth:`unmap`, returning the released pieces themselves (with their backing)."""
        if addr % PAGE_SIZE or length <= 0:
            raise GuestError(EINVAL)
        end = addr + page_up(length)
        if end > self.limit:
            raise GuestError(EINVAL)
        released: list[Mapping] = []
        kept: list[Mapping] = []
        for mapping in self._maps:
            if mapping.end <= addr or mapping.start >= end:
                kept.append(mapping)
                continue
            lo, hi = max(mapping.start, addr), min(mapping.end, end)
            released.append(mapping.piece(lo, hi))
            if mapping.start < lo:
                kept.append(mapping.piece(mapping.start, lo))
            if hi < mapping.end:
                kept.append(mapping.piece(hi, mapping.end))
        kept.sort(key=lambda m: m.start)
        self._maps = kept
        self._starts = [m.start for m in kept]
        return released

    def protect(self, addr: int, length: int, prot: int) -> None:
        """Record a protection change; every page in the range must be mapped (else ENOMEM)."""
        if addr % PAGE_SIZE:
            raise GuestError(EINVAL)
        end = addr + page_up(length)
        if end <= page_up(self.brk) and addr >= 0:
            return  # the break and static image: accepted, nothing to record
        covered = addr
        pieces: list[Mapping] = []
        for mapping in self._maps:
            if mapping.end <= addr or mapping.start >= end:
                pieces.append(mapping)
                continue
            if mapping.start > covered:
                raise GuestError(ENOMEM)
            lo, hi = max(mapping.start, addr), min(mapping.end, end)
            if mapping.start < lo:
                pieces.append(mapping.piece(mapping.start, lo))
            pieces.append(mapping.piece(lo, hi, prot))
            if hi < mapping.end:
                pieces.append(mapping.piece(hi, mapping.end))
            covered = hi
        if covered < end:
            raise GuestError(ENOMEM)
        self._maps = pieces
        self._starts = [m.start for m in pieces]

    def mappings(self) -> list[Mapping]:
        return [m.piece(m.start, m.end) for m in self._maps]

    def mapping_at(self, addr: int) -> Mapping | None:
        """The mapping holding ``addr`` (a copy), or None."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and self._maps[i].start <= addr < self._maps[i].end:
            m = self._maps[i]
            return m.piece(m.start, m.end)
        return None

    def share(self, start: int, backing: object) -> None:
        """Give the mapping that starts at ``start`` a shared backing object (offset 0)."""
        i = bisect.bisect_left(self._starts, start)
        if i == len(self._starts) or self._starts[i] != start:
            raise ValueError(f"no mapping starts at {start:#x}")
        self._maps[i].shared = backing
        self._maps[i].offset = 0

    def prot_at(self, addr: int) -> int | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and self._maps[i].start <= addr < self._maps[i].end:
            return self._maps[i].prot
        return None

    def _insert(self, start: int, end: int, prot: int) -> int:
        i = bisect.bisect_left(self._starts, start)
        self._maps.insert(i, Mapping(start, end, prot))
        self._starts.insert(i, start)
        return start


def _length(length: int) -> int:
    if length <= 0:
        raise GuestError(EINVAL)
    return page_up(length)
