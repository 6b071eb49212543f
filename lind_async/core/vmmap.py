"""A cage's virtual memory map inside its linear memory (page-granular, 4 KiB pages).

Theory of operation
-------------------
Linear memory is one flat range ``[0, limit)``. Like a process image it is carved into:

    [0, heap_start)        the module's static data and stack (never handed out, always in use)
    [heap_start, brk)      the program break, growing upward (``brk``)
    ... free ...
    mappings               ``mmap`` regions, placed top-down from ``limit`` (first fit from the top)

so ``brk`` and ``mmap`` grow toward each other as in a Linux process. As on Linux the break's
pages are an ordinary private anonymous read-write mapping (the ``[heap]`` VMA): ``mmap(MAP_FIXED)``
may replace part of it (musl's mallocng puts a ``PROT_NONE`` guard page at its start), ``munmap``
and ``mprotect`` act on it, and it merges with an adjacent mapping like it. ``brk`` itself moves
the *number* (:meth:`VmMap.set_brk`, Linux's rules): below ``heap_start`` it is refused; growing
needs the new pages, and one guard page above them, free of any mapping and below ``limit``;
shrinking unmaps ``[page_up(new), page_up(old))`` whatever lies there. The break starts page
aligned at ``heap_start`` (Linux's initial break is page aligned too). Placement without
``MAP_FIXED`` never goes below the break. The map records protection (``mprotect`` is recorded,
not enforced: wasm has no page protection). Released ranges are returned to the caller, which
zeroes them, so every page a new mapping receives is zero.

A mapping (Linux: a VMA) may carry backing objects, opaque here (rawposix/shm.py):

- ``shared``: the host object mapped ``MAP_SHARED`` over its pages (an anonymous memfd or a
  file), with ``offset`` the object offset of its first page;
- ``source``: for a private file mapping, the file its pages were read from (``offset`` again),
  so growing it (``mremap``) or dropping its pages (``MADV_DONTNEED``) can read the file again.

Splits keep ``offset`` consistent; after every change adjacent mappings that Linux would merge
(same protection, same backing, contiguous offsets) are merged, so an ``mremap`` sees one range.
The caller is told which pieces an unmap released (:meth:`VmMap.unmap_pieces`).

Placement: :meth:`VmMap.find_space` (a hint address when its range is free, else the highest
free gap), :meth:`VmMap.check_fixed` (``MAP_FIXED``), then :meth:`VmMap.add` inserts a mapping
with all its attributes at once — the caller creates the backing in between.

Pure state, no I/O: the runtime grows the wasm memory and zeroes pages as this map tells it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from lind_async.abi.errno import EINVAL, ENOMEM, GuestError
from lind_async.abi.flags import PAGE_SIZE

_PROT_RW = 0x3  # the break's pages: PROT_READ | PROT_WRITE
TASK_SIZE = 1 << 32  # the guest's address space (wasm32), whatever part of it ``limit`` holds


@dataclass(slots=True)
class Mapping:
    start: int  # bytes, page aligned
    end: int  # bytes, exclusive, page aligned
    prot: int
    shared: object | None = None  # host object of a MAP_SHARED mapping (rawposix/shm.py)
    offset: int = 0  # offset into ``shared`` (or ``source``) of ``start``
    source: object | None = None  # file a private file mapping was read from

    def piece(self, lo: int, hi: int, prot: int | None = None) -> Mapping:
        """``[lo, hi)`` of this mapping (same backing, offset adjusted)."""
        return Mapping(lo, hi, self.prot if prot is None else prot, self.shared,
                       self.offset + lo - self.start, self.source)

    def joins(self, after: Mapping) -> bool:
        """Whether ``after`` (starting where this one ends) continues it exactly."""
        if self.end != after.start or self.prot != after.prot:
            return False
        if self.shared is not after.shared or self.source is not after.source:
            return False
        plain = self.shared is None and self.source is None
        return plain or after.offset == self.offset + self.end - self.start


def page_up(n: int) -> int:
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


class VmMap:
    """brk + mmap bookkeeping for one cage."""

    __slots__ = ("__weakref__", "_maps", "_starts", "brk", "heap_start", "limit")

    def __init__(self, heap_start: int, limit: int) -> None:
        if limit % PAGE_SIZE or heap_start > limit:
            raise ValueError("bad vmmap bounds")
        self.heap_start = page_up(heap_start)
        self.brk = self.heap_start
        self.limit = limit
        self._maps: list[Mapping] = []  # sorted by start, never overlapping
        self._starts: list[int] = []

    def fork(self) -> VmMap:
        """A fork child's copy: the same mappings, their backing objects shared, not copied
        (what ``copy.deepcopy`` gives when the objects deep-copy to themselves, ~10x faster)."""
        new = VmMap.__new__(VmMap)
        new.heap_start, new.brk, new.limit = self.heap_start, self.brk, self.limit
        new._maps = [Mapping(m.start, m.end, m.prot, m.shared, m.offset, m.source)
                     for m in self._maps]
        new._starts = list(self._starts)
        return new

    # -- brk ---------------------------------------------------------------------------------
    def set_brk(self, new_brk: int) -> list[Mapping]:
        """Move the break to ``new_brk`` if Linux would (read :attr:`brk` for the answer: the
        unchanged break when refused). Returns the pieces a shrink released, for the caller to
        give back (zero, or detach their backing)."""
        if new_brk < self.heap_start:
            return []
        old_top, new_top = page_up(self.brk), page_up(new_brk)
        released: list[Mapping] = []
        if new_top > old_top:
            if new_top > self.limit or self._intersects(old_top, new_top + PAGE_SIZE):
                return []
            self.add(Mapping(old_top, new_top, _PROT_RW))
        elif new_top < old_top:
            released = self.unmap_pieces(new_top, old_top - new_top)
        self.brk = new_brk
        return released

    # -- placement ---------------------------------------------------------------------------
    def is_free(self, addr: int, length: int) -> bool:
        """Whether ``[addr, addr+length)`` lies above the static image, below the limit and holds
        no mapping (pages of the break count as mapped)."""
        end = addr + length
        if addr % PAGE_SIZE or addr < self.heap_start or end > self.limit or length <= 0:
            return False
        return not self._intersects(addr, end)

    def overlaps(self, addr: int, length: int) -> bool:
        """Whether any page of the range is in use: a mapping, the break or the static image
        (``MAP_FIXED_NOREPLACE``'s ``EEXIST``)."""
        return addr < self.heap_start or self._intersects(addr, addr + page_up(length))

    def find_space(self, length: int, hint: int = 0) -> int:
        """A free range of ``length`` bytes: at ``hint`` (rounded up to a page) when that range
        is free, else the highest free gap (``ENOMEM`` if none). Inserts nothing."""
        size = _length(length)
        if hint:
            at = page_up(hint)
            if self.is_free(at, size):
                return at
        floor = page_up(self.brk)
        top = self.limit
        for mapping in reversed(self._maps):
            if top - mapping.end >= size and top - size >= floor:
                return top - size
            top = mapping.start
        if top - size >= floor:
            return top - size
        raise GuestError(ENOMEM)

    def check_fixed(self, addr: int, length: int) -> int:
        """Validate a ``MAP_FIXED`` range; returns its page-rounded length."""
        size = _length(length)
        if addr % PAGE_SIZE:
            raise GuestError(EINVAL)
        if addr < self.heap_start or addr + size > self.limit:
            raise GuestError(ENOMEM)  # the static image, or past the end
        return size

    def add(self, mapping: Mapping) -> Mapping:
        """Insert ``mapping`` (its range must be free) and merge it with its neighbours."""
        if mapping.start % PAGE_SIZE or mapping.end % PAGE_SIZE or mapping.end <= mapping.start:
            raise ValueError(f"bad mapping {mapping}")
        if not self.is_free(mapping.start, mapping.end - mapping.start):
            raise ValueError(f"range of {mapping} is not free")
        i = bisect.bisect_left(self._starts, mapping.start)
        self._maps.insert(i, mapping)
        self._starts.insert(i, mapping.start)
        self._merge()
        return mapping

    def map_anywhere(self, length: int, prot: int) -> int:
        """Reserve ``length`` bytes top-down; returns the start address (``ENOMEM`` if none)."""
        start = self.find_space(length)
        self.add(Mapping(start, start + page_up(length), prot))
        return start

    def map_fixed(self, addr: int, length: int, prot: int) -> int:
        """Map exactly ``[addr, addr+length)``, replacing what was there (MAP_FIXED)."""
        size = self.check_fixed(addr, length)
        self.unmap(addr, size)
        self.add(Mapping(addr, addr + size, prot))
        return addr

    # -- unmap / protect ---------------------------------------------------------------------
    def unmap(self, addr: int, length: int) -> list[tuple[int, int]]:
        """Unmap any mapped pages in the range; returns the byte ranges actually released."""
        return [(m.start, m.end) for m in self.unmap_pieces(addr, length)]

    def unmap_pieces(self, addr: int, length: int) -> list[Mapping]:
        """:meth:`unmap`, returning the released pieces themselves (with their backing)."""
        if addr % PAGE_SIZE or length <= 0:
            raise GuestError(EINVAL)
        end = addr + page_up(length)
        if end > TASK_SIZE:
            raise GuestError(EINVAL)  # (past the limit but inside the address space: nothing)
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
        self._set(kept)
        return released

    def protect(self, addr: int, length: int, prot: int) -> None:
        """Record a protection change; every page in the range must be mapped (else ENOMEM)."""
        if addr % PAGE_SIZE:
            raise GuestError(EINVAL)
        end = addr + page_up(length)
        if not self.covered(addr, end):
            raise GuestError(ENOMEM)
        addr = max(addr, self.heap_start)  # the static image: accepted, nothing to record
        if end <= addr:
            return
        pieces: list[Mapping] = []
        for mapping in self._maps:
            if mapping.end <= addr or mapping.start >= end:
                pieces.append(mapping)
                continue
            lo, hi = max(mapping.start, addr), min(mapping.end, end)
            if mapping.start < lo:
                pieces.append(mapping.piece(mapping.start, lo))
            pieces.append(mapping.piece(lo, hi, prot))
            if hi < mapping.end:
                pieces.append(mapping.piece(hi, mapping.end))
        self._set(pieces)
        self._merge()

    # -- queries -----------------------------------------------------------------------------
    def covered(self, addr: int, end: int) -> bool:
        """Whether every page of ``[addr, end)`` is in use (the static image counts)."""
        at = max(addr, self.heap_start)
        for mapping in self.pieces(at, end):
            if mapping.start > at:
                return False
            at = mapping.end
        return at >= end

    def pieces(self, addr: int, end: int) -> list[Mapping]:
        """Copies of the parts of mappings inside ``[addr, end)``, in address order."""
        out = []
        i = max(bisect.bisect_right(self._starts, addr) - 1, 0)
        for mapping in self._maps[i:]:
            if mapping.start >= end:
                break
            if mapping.end > addr:
                out.append(mapping.piece(max(mapping.start, addr), min(mapping.end, end)))
        return out

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

    # -- internals ---------------------------------------------------------------------------
    def _intersects(self, addr: int, end: int) -> bool:
        """Whether a mapping holds any byte of ``[addr, end)``."""
        i = bisect.bisect_left(self._starts, end)  # the first mapping starting at/after end
        return i > 0 and self._maps[i - 1].end > addr

    def _set(self, maps: list[Mapping]) -> None:
        self._maps = maps
        self._starts = [m.start for m in maps]

    def _merge(self) -> None:
        merged: list[Mapping] = []
        for mapping in self._maps:
            if merged and merged[-1].joins(mapping):
                merged[-1].end = mapping.end
            else:
                merged.append(mapping)
        if len(merged) != len(self._maps):
            self._set(merged)


def _length(length: int) -> int:
    if length <= 0:
        raise GuestError(EINVAL)
    return page_up(length)
