"""RawPOSIX memory family: brk, munmap, mprotect (recorded), madvise, and the page helpers the
mmap/mremap side (rawposix/mm_file.py) shares.

The cage's linear memory is grown to its maximum when the cage starts (a shared memory is
reserved at its maximum anyway, and untouched pages cost no RSS), so private anonymous memory is
pure bookkeeping in the cage's :class:`~lind_async.core.vmmap.VmMap` plus zeroing what a mapping
gives back: every free page reads as zero. ``MAP_SHARED`` mappings (anonymous memfds and files)
are host objects mapped over the linear memory (rawposix/shm.py); private file mappings are
copies read from their file.
"""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import EACCES, EINVAL, ENOMEM, GuestError
from lind_async.core.vmmap import TASK_SIZE, Mapping, page_up
from lind_async.memory import cow
from lind_async.rawposix import shm
from lind_async.rawposix.args import i32, pointer, size

if TYPE_CHECKING:
    from collections.abc import Iterable

    from lind_async.rawposix.kernel import CageView

_libc = ctypes.CDLL(None, use_errno=True)
_madvise = _libc.madvise
_madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_madvise.restype = ctypes.c_int
_HOST_PAGE = 4096
_PROT_KNOWN = F.PROT_READ | F.PROT_WRITE | F.PROT_EXEC
_PROT_SEM = 0x8  # accepted by mprotect (x86_64), nothing to record
_PROT_GROWS = 0x03000000  # PROT_GROWSDOWN | PROT_GROWSUP: no mapping grows (EINVAL)

# Advice that changes nothing we model (hints to the pager, KSM, THP, core dumps, fork).
_HINTS = frozenset({
    F.MADV_NORMAL, F.MADV_RANDOM, F.MADV_SEQUENTIAL, F.MADV_WILLNEED, F.MADV_MERGEABLE,
    F.MADV_UNMERGEABLE, F.MADV_HUGEPAGE, F.MADV_NOHUGEPAGE, F.MADV_DONTDUMP, F.MADV_DODUMP,
    F.MADV_DONTFORK, F.MADV_DOFORK, F.MADV_KEEPONFORK, F.MADV_COLD, F.MADV_PAGEOUT,
    F.MADV_POPULATE_READ, F.MADV_POPULATE_WRITE, F.MADV_FREE,
})


def zero_range(cage: CageView, start: int, end: int) -> None:
    """Give ``[start, end)`` back as zero pages: release host pages where whole pages allow
    (through the memory's copy-on-write backing, memory/cow.py; without one ``MADV_DONTNEED``
    on the private anonymous mapping reads back as zeros and frees RSS), memset the edges."""
    if end <= start:
        return
    n = end - start
    mem = cage.mem
    host = mem.host_range(start, n)
    lo = (host + _HOST_PAGE - 1) & ~(_HOST_PAGE - 1)
    hi = (host + n) & ~(_HOST_PAGE - 1)
    if hi > lo and (
        cow.zero_pages(mem.handle, start + lo - host, start + hi - host, remap=False)
        or _madvise(lo, hi - lo, F.MADV_DONTNEED) == 0
    ):
        ctypes.memset(host, 0, lo - host)
        ctypes.memset(hi, 0, host + n - hi)
    else:
        ctypes.memset(host, 0, n)


def read_file(cage: CageView, obj: shm.FileObject, offset: int, start: int, end: int) -> None:
    """Fill ``[start, end)`` (zero pages) with the file's bytes from ``offset``; what lies past
    the end of the file stays zero."""
    view = cage.mem.slice(start, end - start)
    done = 0
    while done < len(view):
        n = os.preadv(obj.fd, (view[done:],), offset + done)
        if n <= 0:
            break
        done += n


def release(cage: CageView, pieces: Iterable[Mapping]) -> None:
    """Give back what an unmap released: zero pages for private pieces; shared pieces get private
    zero pages again; objects this address space no longer uses lose it (rawposix/shm.py)."""
    backed = []
    for m in pieces:
        if m.shared is None:
            zero_range(cage, m.start, m.end)
        if m.shared is not None or m.source is not None:
            backed.append(m)
    if backed:
        shm.unmapped(cage.mem, cage.vm, backed)


def sys_brk(cage: CageView, addr: int, *_: int) -> int:
    """Linux's brk(2): the new break, or the unchanged one when the move is refused (libc's
    ``brk``/``sbrk`` turn that into ``ENOMEM``); ``brk(0)`` asks for the current one."""
    vm = cage.vm
    wanted = pointer(addr)
    if wanted:
        release(cage, vm.set_brk(wanted))
    return vm.brk


def sys_munmap(cage: CageView, addr: int, length: int, *_: int) -> int:
    release(cage, cage.vm.unmap_pieces(pointer(addr), size(length)))
    return 0


def sys_mprotect(cage: CageView, addr: int, length: int, prot: int, *_: int) -> int:
    start, n, want = pointer(addr), size(length), i32(prot)
    if want & ~(_PROT_KNOWN | _PROT_SEM):
        # (x86_64 has no PROT_GROWSUP mapping; MAP_GROWSDOWN is accepted but not kept, so no
        # mapping takes PROT_GROWSDOWN either)
        raise GuestError(EINVAL)
    if start % F.PAGE_SIZE:
        raise GuestError(EINVAL)
    if n == 0:
        return 0
    end = start + page_up(n)
    if want & F.PROT_WRITE:
        for m in cage.vm.pieces(start, end):  # shared and read-only through its fd
            if isinstance(m.shared, shm.HostObject) and not m.shared.writable:
                raise GuestError(EACCES)
    cage.vm.protect(start, n, want & _PROT_KNOWN)
    return 0


def sys_madvise(cage: CageView, addr: int, length: int, advice: int, *_: int) -> int:
    start, n, how = pointer(addr), size(length), i32(advice)
    if start % F.PAGE_SIZE:
        raise GuestError(EINVAL)
    if how not in _HINTS and how not in (F.MADV_DONTNEED, F.MADV_REMOVE):
        raise GuestError(EINVAL)  # MADV_WIPEONFORK, hwpoison, unknown
    if n == 0:
        return 0
    end = start + page_up(n)
    if end > TASK_SIZE:
        raise GuestError(EINVAL)  # wraps around the 32-bit address space
    vm = cage.vm
    if how == F.MADV_REMOVE and any(m.shared is None for m in vm.pieces(start, end)):
        raise GuestError(EINVAL)  # only shared mappings can punch holes
    if how in (F.MADV_DONTNEED, F.MADV_REMOVE):  # (the static image is kept)
        for m in vm.pieces(start, end):
            drop_pages(cage, m, how)
    if not vm.covered(start, end):
        raise GuestError(ENOMEM)
    return 0


def drop_pages(cage: CageView, m: Mapping, how: int = F.MADV_DONTNEED) -> None:
    """``MADV_DONTNEED`` on one piece, as Linux: private anonymous pages read back as zeros,
    private file pages as the file's contents again, shared pages keep their contents (the
    host drops only this mapping of them; ``MADV_REMOVE`` frees them in the object too)."""
    if isinstance(m.shared, shm.HostObject):
        host = cage.mem.host_range(m.start, m.end - m.start)
        if _madvise(host, m.end - m.start, how) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return
    zero_range(cage, m.start, m.end)
    if isinstance(m.source, shm.FileObject):
        read_file(cage, m.source, m.offset, m.start, m.end)
