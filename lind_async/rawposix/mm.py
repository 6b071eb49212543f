"""RawPOSIX memory family: brk, anonymous mmap/munmap, mprotect (recorded), madvise.

The cage's linear memory is grown to its maximum when the cage starts (a shared memory is
reserved at its maximum anyway, and untouched pages cost no RSS), so mapping is pure bookkeeping
in the cage's :class:`~lind_async.core.vmmap.VmMap` plus zeroing what a mapping gives back.
``MAP_SHARED`` anonymous mappings are host memfd objects mapped over the linear memory, so they
stay shared with fork children (rawposix/shm.py).
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import EEXIST, EINVAL, ENODEV, GuestError
from lind_async.core.vmmap import Mapping, page_up
from lind_async.rawposix import shm
from lind_async.rawposix.args import i32, i64, pointer, size

if TYPE_CHECKING:
    from collections.abc import Iterable

    from lind_async.runtime.cage import Cage

_MADV_DONTNEED = 4
_libc = ctypes.CDLL(None, use_errno=True)
_madvise = _libc.madvise
_madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_madvise.restype = ctypes.c_int
_HOST_PAGE = 4096


def zero_range(cage: Cage, start: int, end: int) -> None:
    """Give ``[start, end)`` back as zero pages: release host pages where whole pages allow
    (``MADV_DONTNEED`` on the private anonymous mapping reads back as zeros and frees RSS),
    memset the edges."""
    if end <= start:
        return
    mem = cage.mem
    mem.check(start, end - start)
    base = mem.base
    lo = (base + start + _HOST_PAGE - 1) & ~(_HOST_PAGE - 1)
    hi = (base + end) & ~(_HOST_PAGE - 1)
    if hi > lo and _madvise(lo, hi - lo, _MADV_DONTNEED) == 0:
        ctypes.memset(base + start, 0, lo - (base + start))
        ctypes.memset(hi, 0, base + end - hi)
    else:
        ctypes.memset(base + start, 0, end - start)


def sys_brk(cage: Cage, addr: int, *_: int) -> int:
    vm = cage.vm
    wanted = pointer(addr)
    if wanted == 0:
        return vm.brk
    old = vm.brk
    new = vm.set_brk(wanted)
    if new < old:
        zero_range(cage, page_up(new), page_up(old))
    return new


def sys_mmap(
    cage: Cage, addr: int, length: int, prot: int, flags: int, fd: int, offset: int
) -> int:
    map_flags = i32(flags)
    want = size(length)
    if want == 0 or i64(offset) % F.PAGE_SIZE:
        raise GuestError(EINVAL)
    kind = map_flags & 0x3
    if kind not in (F.MAP_SHARED, F.MAP_PRIVATE, 0x3):  # 0x3: MAP_SHARED_VALIDATE
        raise GuestError(EINVAL)
    if not map_flags & F.MAP_ANONYMOUS:
        raise GuestError(ENODEV)  # file-backed mappings come with the I/O breadth issue
    vm = cage.vm
    if map_flags & (F.MAP_FIXED | F.MAP_FIXED_NOREPLACE):
        start = pointer(addr)
        if map_flags & F.MAP_FIXED_NOREPLACE and any(
            m.start < start + page_up(want) and start < m.end for m in vm.mappings()
        ):
            raise GuestError(EEXIST)
        if start % F.PAGE_SIZE == 0:
            release(cage, vm.unmap_pieces(start, want))
        start = vm.map_fixed(start, want, i32(prot))
    else:
        start = vm.map_anywhere(want, i32(prot))
    if kind != F.MAP_PRIVATE:  # MAP_SHARED[_VALIDATE]: a host object, shared with fork children
        try:
            obj = shm.create(cage.mem.base, start, start + page_up(want))
        except GuestError:
            vm.unmap(start, want)
            raise
        vm.share(start, obj)
    return start


def release(cage: Cage, pieces: Iterable[Mapping]) -> None:
    """Give back what an unmap released: zero pages for private pieces; shared pieces get private
    zero pages again and their objects lose this address space (rawposix/shm.py)."""
    shared = []
    for m in pieces:
        if m.shared is None:
            zero_range(cage, m.start, m.end)
        else:
            shared.append(m)
    if shared:
        shm.unmapped(cage.mem.base, cage.vm, shared)


def sys_munmap(cage: Cage, addr: int, length: int, *_: int) -> int:
    release(cage, cage.vm.unmap_pieces(pointer(addr), size(length)))
    return 0


def sys_mprotect(cage: Cage, addr: int, length: int, prot: int, *_: int) -> int:
    cage.vm.protect(pointer(addr), size(length), i32(prot))
    return 0


def sys_madvise(cage: Cage, addr: int, length: int, advice: int, *_: int) -> int:
    start, n = pointer(addr), size(length)
    if start % F.PAGE_SIZE:
        raise GuestError(EINVAL)
    cage.mem.check(start, page_up(n))
    if i32(advice) == _MADV_DONTNEED and cage.vm.prot_at(start) is not None:
        zero_range(cage, start, start + page_up(n))
    return 0
