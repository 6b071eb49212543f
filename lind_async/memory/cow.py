"""Copy-on-write linear memory for fork: each address space's private pages over a host memfd.

Theory of operation
-------------------
Linux shares pages copy-on-write between two mappings only through ``fork`` itself or through
``MAP_PRIVATE`` mappings of one file. A cage's linear memory is one host mapping (wasmtime's
reservation of its shared memory), so a program that can fork (its module imports ``lind.fork``)
gets its memory from a **snapshot**: a host ``memfd`` mapped with ``MAP_FIXED`` over
``[0, size)`` of the memory before the module is instantiated (:meth:`Backing.create`). A
:class:`Backing` is one address space's view of its snapshot, in one of two modes:

- **owned** (a new cage, until its first fork): ``MAP_SHARED`` of the snapshot, which only it
  uses — every write lands in the memfd, the snapshot *is* the memory;
- **private** (after a fork): ``MAP_PRIVATE`` of the snapshot, frozen while several address
  spaces map it. A write copies the page into an anonymous page of this address space (the
  kernel's copy-on-write); ``/proc/self/pagemap`` tells such a *dirty* page (present and not a
  file page, or swapped out: only anonymous pages swap) from one still read from the snapshot.

``fork`` (:meth:`Backing.fork`) makes the parent's current contents a snapshot both map private:

- owned: the snapshot already holds them; the parent's ranges become ``MAP_PRIVATE`` of it (one
  ``mmap`` per private range). Nothing is copied.
- private, and no other address space maps the snapshot any more (its earlier children exited or
  exec'd): the parent *folds* its dirty pages back into the snapshot (``pwrite``, only its own
  anonymous pages, found in the used ranges the caller names) and, when they are
  more than :data:`KEEP_DIRTY`, drops its own copies (``MADV_DONTNEED``: the mapping reads the
  snapshot again, which now holds the same bytes). A few pages (a small program's stack and
  fork buffer, written at every fork) are kept: folding them again costs less than the
  ``madvise`` and the copy-on-write faults of writing them again.
- private, and the snapshot is still shared (an earlier child lives on): the parent changes
  nothing; the child maps the snapshot and, over the pages the parent changed since it was
  frozen, a *patch* memfd holding them (``pwrite``; one ``mmap`` per run). Such a layered child
  that forks in turn is flattened first: a new memfd gets the snapshot's and the patch's data
  extents (``SEEK_DATA``/``copy_file_range``, in the kernel) and its own pages — the one case
  that copies the image.

The child's new memory maps the snapshot ``MAP_PRIVATE`` over the same ranges (one ``mmap`` per
range, and per patch run): an ``exec`` right after fork copies nothing. Snapshots count the
address spaces mapping them (:attr:`Snapshot.users`); the last to let go closes the fd (the host
pages live until the memory mappings go, with the wasmtime memory).

Ranges the snapshot must not cover are the caller's ``MAP_SHARED`` pieces (host objects mapped
over linear memory, rawposix/shm.py): every remap skips them. Giving memory back
(:meth:`Backing.zero`: ``munmap``, a shrinking break, ``MADV_DONTNEED``, a shared piece
unmapped) must read back as zeros: owned, a hole is punched in the memfd (and the memfd mapped
there again when something else was); private, anonymous zero pages are mapped there and the
range is remembered as an *override* (its contents are this address space's own, zero where
untouched) until the next fork folds it. Memory the guest grew itself (``memory.grow`` past the
backed size) is an override too. Pages outside the used ranges the fork names (memory the
program does not own, which natively it could not write) are not carried into a snapshot.

Everything here runs on the loop thread while no wasm of the address space runs (a host call or
the fork hook), so no page changes while it is folded or remapped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lind_async.memory.access import GuestMemory

PAGE = 4096
KEEP_DIRTY = 1 << 20
"""Up to this many bytes of folded pages stay the parent's own copies (written again at each
fold, but no ``MADV_DONTNEED`` and no copy-on-write fault when it writes them again)."""
Ranges = list[tuple[int, int]]

_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc.mmap
_mmap.argtypes = (
    ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_mmap.restype = ctypes.c_void_p
_madvise = _libc.madvise
_madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_madvise.restype = ctypes.c_int
_fallocate = _libc.fallocate
_fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long)
_fallocate.restype = ctypes.c_int
_MAP_FAILED = ctypes.c_void_p(-1).value
_PROT_RW = 0x3
_MAP_SHARED, _MAP_PRIVATE, _MAP_FIXED, _MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
_MADV_DONTNEED = 4
_PUNCH_HOLE = 0x01 | 0x02  # FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE
# pagemap: bit 63 present, 62 swapped, 61 file page or shared anonymous (top byte 0x80/0x40/0x20)
_DIRTY = bytes(1 if b & 0x40 or b & 0xA0 == 0x80 else 0 for b in range(256))
# PAGEMAP_SCAN (Linux 6.7): the kernel reports the runs of pages in given categories itself
_PAGEMAP_SCAN = 0xC0606610  # _IOWR('f', 16, struct pm_scan_arg)
_IS_FILE, _IS_PRESENT, _IS_SWAPPED, _IS_PFNZERO = 1 << 2, 1 << 3, 1 << 4, 1 << 5
_ioctl = _libc.ioctl
_ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)
_ioctl.restype = ctypes.c_int


class _ScanArg(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "size", "flags", "start", "end", "walk_end", "vec", "vec_len", "max_pages",
        "category_inverted", "category_mask", "category_anyof_mask", "return_mask")]


class _Region(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint64), ("end", ctypes.c_uint64),
                ("categories", ctypes.c_uint64)]


_VEC_LEN = 256
_vec = (_Region * _VEC_LEN)()
_scan_works: list[bool] = []  # [whether PAGEMAP_SCAN answered], once known

_backings: weakref.WeakKeyDictionary[object, Backing] = weakref.WeakKeyDictionary()
_pagemap_fd: list[int] = []  # [fd or -1, the pid that opened it], once opened


# ------------------------------------------------------------------------------ ranges (pure)
def page_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """``ranges`` widened to whole pages, sorted and merged (empty ones dropped)."""
    out: Ranges = []
    for lo, hi in sorted((lo // PAGE * PAGE, -(-hi // PAGE) * PAGE) for lo, hi in ranges
                         if hi > lo):
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def subtract(ranges: Ranges, holes: Ranges) -> Ranges:
    """``ranges`` minus ``holes`` (both sorted and disjoint)."""
    out: Ranges = []
    j = 0
    for lo, hi in ranges:
        while j < len(holes) and holes[j][1] <= lo:
            j += 1
        k = j
        while lo < hi and k < len(holes) and holes[k][0] < hi:
            if holes[k][0] > lo:
                out.append((lo, holes[k][0]))
            lo = max(lo, holes[k][1])
            k += 1
        if lo < hi:
            out.append((lo, hi))
    return out


def intersect(ranges: Ranges, within: Ranges) -> Ranges:
    """The parts of ``ranges`` inside ``within`` (both sorted and disjoint)."""
    out: Ranges = []
    j = 0
    for lo, hi in ranges:
        while j < len(within) and within[j][1] <= lo:
            j += 1
        k = j
        while k < len(within) and within[k][0] < hi:
            a, b = max(lo, within[k][0]), min(hi, within[k][1])
            if a < b:
                out.append((a, b))
            k += 1
    return out


def dirty_runs(flags: bytes, first_page: int) -> Iterator[tuple[int, int]]:
    """Byte ranges of the pages whose flag is 1 (``flags[i]`` for page ``first_page + i``)."""
    i = flags.find(1)
    while i >= 0:
        j = flags.find(0, i)
        if j < 0:
            j = len(flags)
        yield (first_page + i) * PAGE, (first_page + j) * PAGE
        i = flags.find(1, j)


# ------------------------------------------------------------------------------ host objects
class Snapshot:
    """A memfd holding linear-memory contents, and how many address spaces map it."""

    __slots__ = ("fd", "users")

    def __init__(self, size: int) -> None:
        self.fd = os.memfd_create("lind-linear-memory", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, size)
        except OSError:
            os.close(self.fd)
            raise
        self.users = 1

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def release(self) -> None:
        self.users -= 1
        if self.users <= 0 and self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def punch(self, ranges: Ranges) -> None:
        for lo, hi in ranges:
            if _fallocate(self.fd, _PUNCH_HOLE, lo, hi - lo) != 0:
                _raise("fallocate")

    def copy_from(self, src: Snapshot, lo: int, hi: int) -> None:
        """``src``'s data extents in ``[lo, hi)`` (holes stay holes), copied in the kernel."""
        off = lo
        while off < hi:
            try:
                off = os.lseek(src.fd, off, os.SEEK_DATA)
            except OSError:  # ENXIO: no data past off
                return
            end = min(os.lseek(src.fd, off, os.SEEK_HOLE), hi)
            while off < end:
                n = os.copy_file_range(src.fd, self.fd, end - off, off, off)
                if n <= 0:
                    raise OSError(0, "copy_file_range copied nothing")
                off += n


def _raise(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def _map(host: int, length: int, flags: int, fd: int, offset: int) -> None:
    got = _mmap(host, length, _PROT_RW, flags | _MAP_FIXED, fd, offset)
    if got == _MAP_FAILED or got != host:
        _raise(f"mmap at {host:#x}")


def _scan(fd: int, lo: int, hi: int) -> Ranges | None:
    """Host runs in ``[lo, hi)`` of private dirty pages — anonymous (not a file page, not the
    zero page) and present or swapped — by ``PAGEMAP_SCAN``; None if the kernel lacks it."""
    if _scan_works == [False]:
        return None
    out: Ranges = []
    arg = _ScanArg(size=ctypes.sizeof(_ScanArg), start=lo, end=hi,
                   vec=ctypes.addressof(_vec), vec_len=_VEC_LEN,
                   category_inverted=_IS_FILE | _IS_PFNZERO,
                   category_mask=_IS_FILE | _IS_PFNZERO,
                   category_anyof_mask=_IS_PRESENT | _IS_SWAPPED,
                   return_mask=_IS_PRESENT | _IS_SWAPPED)
    while True:
        n = _ioctl(fd, _PAGEMAP_SCAN, ctypes.byref(arg))
        if n < 0:
            if not _scan_works:
                _scan_works.append(False)
                return None
            _raise("PAGEMAP_SCAN")
        if not _scan_works:
            _scan_works.append(True)
        for r in _vec[:n]:
            if out and out[-1][1] == r.start:
                out[-1] = (out[-1][0], r.end)
            else:
                out.append((r.start, r.end))
        if arg.walk_end >= hi or n == 0:
            return out
        arg.start = arg.walk_end


def _pagemap() -> int | None:
    """This process's ``/proc/self/pagemap`` (None if it cannot be read). Opened when this module
    is imported, so that the fd exists before any cage (tests compare the fds open before and
    after a run), and again in a child of ``os.fork``: ``/proc/self`` is resolved at ``open``,
    so an inherited fd would describe the parent's pages."""
    if not _pagemap_fd or _pagemap_fd[1] != _pid[0]:
        if _pagemap_fd and _pagemap_fd[0] >= 0:
            with contextlib.suppress(OSError):
                os.close(_pagemap_fd[0])
        try:
            fd = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            fd = -1
        _pagemap_fd[:] = [fd, _pid[0]]
    return _pagemap_fd[0] if _pagemap_fd[0] >= 0 else None


_pid = [os.getpid()]  # (kept by os.fork's hook: a getpid per fold was ~1 % of a small fork)
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))
_pagemap()


# ------------------------------------------------------------------------------ the backing
class Backing:
    """One address space's private memory ``[0, size)`` as a view of a :class:`Snapshot`."""

    __slots__ = ("__weakref__", "host", "overrides", "owned", "patch", "patches", "size", "snap")

    def __init__(self, host: int, size: int, snap: Snapshot, *, owned: bool) -> None:
        self.host = host
        self.size = size
        self.snap: Snapshot | None = snap
        self.owned = owned
        self.overrides: Ranges = []  # private mode: anonymous ranges (this space's own bytes)
        self.patch: Snapshot | None = None  # a layered child: its parent's pages over ``snap``
        self.patches: Ranges = []  # where ``patch`` is mapped

    @classmethod
    def create(cls, memory: object, mem: GuestMemory) -> Backing:
        """A new snapshot mapped shared over all of ``mem`` (still untouched: the module is not
        instantiated yet), registered as ``memory``'s backing. ``OSError`` if the host cannot."""
        size = mem.size // PAGE * PAGE
        snap = Snapshot(size)
        host = mem.host_range(0, size)
        try:
            _map(host, size, _MAP_SHARED, snap.fd, 0)
        except OSError:
            snap.release()
            raise
        backing = cls(host, size, snap, owned=True)
        _backings[memory] = backing
        return backing

    # -- giving memory back ----------
    def zero(self, start: int, end: int, *, remap: bool) -> bool:
        """Make the whole pages ``[start, end)`` read as zeros; ``remap``: something else (a
        shared object) was mapped there and the range becomes this backing's again. False when
        the range is not the backing's to zero (past it): the caller zeroes. Once released (a
        vfork child may still run on the memory) it maps anonymous zero pages there."""
        snap = self.snap
        if start % PAGE or end % PAGE or end > self.size or start >= end:
            return False
        if snap is None:
            _map(self.host + start, end - start, _MAP_PRIVATE | _MAP_ANONYMOUS, -1, 0)
        elif self.owned:
            snap.punch([(start, end)])
            if remap:
                _map(self.host + start, end - start, _MAP_SHARED, snap.fd, start)
        else:
            _map(self.host + start, end - start, _MAP_PRIVATE | _MAP_ANONYMOUS, -1, 0)
            self.overrides = page_ranges([*self.overrides, (start, end)])
        return True

    # -- fork ----------
    def fork(self, mem_size: int, child_host: int, shared: Iterable[tuple[int, int]],
             used: Iterable[tuple[int, int]]) -> Backing:
        """Freeze this address space's contents into a snapshot both it and a child map
        private; map it into the child's memory at ``child_host`` (as large as this one) and
        return the child's backing. ``shared``: ranges the snapshot must not cover (each address
        space maps its shared objects there); ``used``: where this space may hold data (dirty
        pages elsewhere are not carried). ``OSError`` if the host cannot."""
        snap = self.snap
        if snap is None:
            raise OSError(0, "fork of a released address space")
        self._adopt_growth(mem_size)
        private = subtract([(0, self.size)], page_ranges(shared))
        overrides = intersect(self.overrides, private)
        scan = intersect(page_ranges([*used, *overrides]), private)
        if self.patch is not None:  # a layered child forks: flatten it into a snapshot first
            snap = self._flatten(snap, self.patch, private, overrides, scan)
        elif self.owned:
            self._fold(snap, overrides, overrides)  # only grown or given-back ranges differ
            self._remap(private, snap)
            self.owned = False
        elif snap.users == 1:
            runs = self._fold(snap, overrides, scan)
            own = subtract(runs, overrides)
            if sum(hi - lo for lo, hi in own) > KEEP_DIRTY:
                for lo, hi in own:
                    _madvise(self.host + lo, hi - lo, _MADV_DONTNEED)  # reads the snapshot again
            for lo, hi in overrides:
                _map(self.host + lo, hi - lo, _MAP_PRIVATE, snap.fd, lo)
        else:
            return self._layered(snap, child_host, private, overrides, scan)
        self.overrides = []
        snap.users += 1
        child = Backing(child_host, self.size, snap, owned=False)
        try:
            child._remap(private, snap)
        except OSError:
            child.release()
            raise
        return child

    def _layered(self, snap: Snapshot, child_host: int, private: Ranges, overrides: Ranges,
                 scan: Ranges) -> Backing:
        """The snapshot is still shared: this space keeps its own pages as they are; the child
        maps the snapshot and, over the pages this space changed, a patch memfd holding them."""
        patch = Snapshot(self.size)
        try:
            runs = self._fold(patch, [], scan)  # (a fresh memfd: overrides' other pages are 0)
        except OSError:
            patch.release()
            raise
        snap.users += 1
        child = Backing(child_host, self.size, snap, owned=False)
        child.patch = patch
        child.patches = intersect(page_ranges([*runs, *overrides]), private)
        try:
            child._remap(private, snap)
            for lo, hi in child.patches:
                _map(child_host + lo, hi - lo, _MAP_PRIVATE, patch.fd, lo)
        except OSError:
            child.release()
            raise
        return child

    def _flatten(self, snap: Snapshot, patch: Snapshot, private: Ranges, overrides: Ranges,
                 scan: Ranges) -> Snapshot:
        """Replace this space's snapshot and patch with one snapshot of its contents: the
        snapshot's and the patch's data copied in the kernel, then its own pages."""
        fresh = Snapshot(self.size)
        try:
            fresh.copy_from(snap, 0, self.size)
            fresh.punch(self.patches)
            for lo, hi in self.patches:
                fresh.copy_from(patch, lo, hi)
            self._fold(fresh, overrides, scan)
            self._remap(private, fresh)
        except OSError:
            fresh.release()
            raise
        snap.release()
        patch.release()
        self.snap, self.patch, self.patches = fresh, None, []
        return fresh

    def _adopt_growth(self, mem_size: int) -> None:
        """The guest grew its memory past the backed size: the new pages are this space's own
        (wasmtime's anonymous pages) until a fork folds them in."""
        grown = mem_size // PAGE * PAGE
        if grown <= self.size or self.snap is None:
            return
        if self.snap.size() < grown:
            os.ftruncate(self.snap.fd, grown)  # (others never map past their own size)
        self.overrides = page_ranges([*self.overrides, (self.size, grown)])
        self.size = grown

    def _fold(self, snap: Snapshot, holes: Ranges, scan: Ranges) -> Ranges:
        """Write this space's dirty pages within ``scan`` into ``snap`` (after punching
        ``holes``, whose untouched pages read as zero); returns the dirty runs."""
        snap.punch(holes)
        fd = _pagemap()
        if not scan:
            return []
        # One PAGEMAP_SCAN over the span (the kernel skips unpopulated page tables at once),
        # its runs cut back to the ranges asked for.
        found = (_scan(fd, self.host + scan[0][0], self.host + scan[-1][1])
                 if fd is not None else None)
        runs: Ranges = []
        if found is not None:
            runs = intersect([(a - self.host, b - self.host) for a, b in found], scan)
            scan = []
        for lo, hi in scan:
            first, n = (self.host + lo) // PAGE, (hi - lo) // PAGE
            flags = b""
            if fd is not None:
                try:
                    flags = os.pread(fd, n * 8, first * 8)[7::8].translate(_DIRTY)
                except OSError:
                    flags = b""
            if len(flags) != n:
                runs.append((lo, hi))  # cannot tell: everything in range
                continue
            runs += [(a - self.host, b - self.host) for a, b in dirty_runs(flags, first)]
        for lo, hi in runs:
            view = (ctypes.c_char * (hi - lo)).from_address(self.host + lo)
            done = 0
            while done < hi - lo:
                done += os.pwrite(snap.fd, memoryview(view)[done:], lo + done)
        return runs

    def _remap(self, ranges: Ranges, snap: Snapshot) -> None:
        for lo, hi in ranges:
            _map(self.host + lo, hi - lo, _MAP_PRIVATE, snap.fd, lo)

    def release(self) -> None:
        """The address space ends (exit, exec): let go of the snapshot. The host mappings go
        with the memory."""
        snap, self.snap = self.snap, None
        patch, self.patch = self.patch, None
        for obj in (snap, patch):
            if obj is not None:
                obj.release()


def backing_of(memory: object) -> Backing | None:
    """The live backing of a memory handle, if it has one (fork copies a memory without)."""
    b = _backings.get(memory)
    return b if b is not None and b.snap is not None else None


def zero_pages(memory: object, start: int, end: int, *, remap: bool) -> bool:
    """Give the whole pages ``[start, end)`` of ``memory`` back as zeros through its backing,
    live or released (:meth:`Backing.zero`); False when it never had one (wasmtime's anonymous
    pages: the caller zeroes) or the range is not the backing's."""
    b = _backings.get(memory)
    return b is not None and b.zero(start, end, remap=remap)


def register(memory: object, backing: Backing) -> None:
    _backings[memory] = backing


def release(memory: object) -> None:
    """``memory``'s address space ends: its backing lets go of its snapshot (it stays known,
    released, for as long as the memory lives: zeros given back are then anonymous pages)."""
    b = _backings.get(memory)
    if b is not None:
        b.release()
