"""RawPOSIX mapping calls: mmap (anonymous and file-backed), mremap, msync, mincore — and the
rows of the whole memory family (brk/munmap/mprotect/madvise live in rawposix/mm.py).

Theory of operation
-------------------
Placement and every record is the cage's :class:`~lind_async.core.vmmap.VmMap`; what lies in the
pages depends on the kind of mapping (rawposix/shm.py explains the host side):

- private anonymous: nothing to do (free pages are zero);
- private file: the file's bytes are read into the range (a copy: later writes to either side
  are not seen by the other; Linux leaves that unspecified for pages not yet written). The
  mapping remembers the file (``source``) for ``mremap`` growth and ``MADV_DONTNEED``;
- shared anonymous (also ``/dev/zero``): a memfd mapped over the range;
- shared file: the file itself mapped over the range (pages up to its end), so writes reach the
  page cache at once: ``read`` sees them, other cages mapping the file see them, ``msync`` only
  has to ask the host to flush, ``munmap``/exit write back as the kernel does. The cage's memory
  is guarded first (memory/faults.py): a file shrunk under it is its ``SIGBUS``, never the
  microvisor's.

``mremap`` shrinks in place (releasing the tail), grows in place when the pages after the
mapping are free, else moves (``MREMAP_MAYMOVE``, or to ``MREMAP_FIXED``): private contents are
copied and the old range zeroed; shared objects are simply mapped at the new place.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import stat as stat_mod
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import (
    EACCES,
    EBADF,
    EEXIST,
    EFAULT,
    EINVAL,
    ENODEV,
    ENOMEM,
    EOPNOTSUPP,
    EOVERFLOW,
    GuestError,
)
from lind_async.core.vmmap import Mapping, page_up
from lind_async.rawposix import mm, shm
from lind_async.rawposix.args import i32, i64, pointer, size
from lind_async.rawposix.devices import ZeroDevice
from lind_async.rawposix.files import FileOps
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_libc = ctypes.CDLL(None, use_errno=True)
_msync = _libc.msync
_msync.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_msync.restype = ctypes.c_int
_mincore = _libc.mincore
_mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
_mincore.restype = ctypes.c_int

PAGE = F.PAGE_SIZE
_U64 = (1 << 64) - 1
_OFF_MAX = (1 << 63) - 1  # MAX_LFS_FILESIZE: a file mapping's offset + length stays below it

# What MAP_SHARED_VALIDATE accepts (Linux's LEGACY_MAP_MASK plus MAP_FIXED_NOREPLACE).
_VALIDATE_MASK = (
    F.MAP_TYPE | F.MAP_FIXED | F.MAP_ANONYMOUS | F.MAP_DENYWRITE | F.MAP_EXECUTABLE
    | F.MAP_UNINITIALIZED | F.MAP_GROWSDOWN | F.MAP_LOCKED | F.MAP_NORESERVE | F.MAP_POPULATE
    | F.MAP_NONBLOCK | F.MAP_STACK | F.MAP_HUGETLB | F.MAP_FIXED_NOREPLACE
)


# ------------------------------------------------------------------------------ mmap
def sys_mmap(
    cage: CageView, addr: int, length: int, prot: int, flags: int, fd: int, offset: int
) -> int:
    map_flags, want, off, prot_ = i32(flags), size(length), i64(offset), i32(prot)
    if off % PAGE:
        raise GuestError(EINVAL)
    file = None if map_flags & F.MAP_ANONYMOUS else _mappable(cage, i32(fd))
    if want == 0:
        raise GuestError(EINVAL)
    vm = cage.vm
    n = page_up(want)
    if n > vm.limit:
        raise GuestError(ENOMEM)
    if file is not None and off & _U64 > _OFF_MAX - n:
        raise GuestError(EOVERFLOW)  # the file's last byte would pass the largest offset
    kind = map_flags & F.MAP_TYPE
    if kind not in (F.MAP_SHARED, F.MAP_PRIVATE, F.MAP_SHARED_VALIDATE):
        raise GuestError(EINVAL)
    if kind == F.MAP_SHARED_VALIDATE:  # file mappings only (anonymous: EINVAL, as Linux)
        if file is None:
            raise GuestError(EINVAL)
        if map_flags & ~_VALIDATE_MASK:
            raise GuestError(EOPNOTSUPP)
    shared = kind != F.MAP_PRIVATE
    fixed = map_flags & (F.MAP_FIXED | F.MAP_FIXED_NOREPLACE)
    if fixed:
        start = pointer(addr)
        if start % PAGE:
            raise GuestError(EINVAL)
        if map_flags & F.MAP_FIXED_NOREPLACE and vm.overlaps(start, n):
            raise GuestError(EEXIST)
        vm.check_fixed(start, n)
    else:
        start = vm.find_space(n, pointer(addr))
    obj = None if file is None else _file_object(file, shared=shared, prot=prot_)
    try:
        if fixed:
            mm.release(cage, vm.unmap_pieces(start, n))
        if obj is None:
            _map_anonymous(cage, start, start + n, prot_, shared)
        else:
            _map_file(cage, start, start + n, prot_, obj, off, shared)
    except BaseException:
        if obj is not None and obj.users == 0:
            obj.attach()
            obj.detach()  # closes the dup: no mapping got it
        raise
    return start


def _mappable(cage: CageView, vfd: int) -> FileOps:
    """The description behind ``vfd`` if it may be mapped at all (``EBADF``)."""
    file = cage.fds.file(vfd)
    if not isinstance(file, FileOps) or file.status_flags & F.O_PATH:
        raise GuestError(EBADF)
    return file


def _file_object(file: FileOps, *, shared: bool, prot: int) -> shm.FileObject | None:
    """Linux's checks of the description (``EACCES``, ``ENODEV``) and its host object (None:
    ``/dev/zero``, which maps anonymous memory)."""
    if shared and prot & F.PROT_WRITE and not file.writable():
        raise GuestError(EACCES)
    if not file.readable():
        raise GuestError(EACCES)
    if isinstance(file, ZeroDevice):
        return None
    host_fd = getattr(file, "host_fd", None)
    if not isinstance(host_fd, int) or not stat_mod.S_ISREG(os.fstat(host_fd).st_mode):
        raise GuestError(ENODEV)
    return shm.FileObject(host_fd, shared=shared, writable=file.writable())


def _map_anonymous(cage: CageView, start: int, end: int, prot: int, shared: bool) -> None:
    vm = cage.vm
    if not shared:
        vm.add(Mapping(start, end, prot))
        return
    obj = shm.create(cage.mem, start, end)  # MAP_SHARED: shared with fork children
    vm.add(Mapping(start, end, prot, shared=obj))


def _map_file(cage: CageView, start: int, end: int, prot: int, obj: shm.FileObject, offset: int,
              shared: bool) -> None:
    if shared:
        cage.ops.guard_memory()  # a file shrunk under it: this cage's SIGBUS
        shm.map_object(cage.mem, start, end, obj, offset)
        cage.vm.add(Mapping(start, end, prot, shared=obj, offset=offset))
        shm.track(cage.vm, cage.mem)
    else:
        mm.read_file(cage, obj, offset, start, end)
        cage.vm.add(Mapping(start, end, prot, offset=offset, source=obj))
    obj.attach()


# ------------------------------------------------------------------------------ mremap
def sys_mremap(
    cage: CageView, old_addr: int, old_size: int, new_size: int, flags: int, new_addr: int, *_: int
) -> int:
    how, addr = i32(flags), pointer(old_addr)
    old, new = page_up(size(old_size)), page_up(size(new_size))
    if how & ~(F.MREMAP_MAYMOVE | F.MREMAP_FIXED | F.MREMAP_DONTUNMAP):
        raise GuestError(EINVAL)
    if how & F.MREMAP_FIXED and not how & F.MREMAP_MAYMOVE:
        raise GuestError(EINVAL)
    if how & F.MREMAP_DONTUNMAP:
        raise GuestError(EINVAL)  # not supported
    if addr % PAGE or new == 0:
        raise GuestError(EINVAL)
    vm = cage.vm
    m = vm.mapping_at(addr)
    if m is None:
        raise GuestError(EFAULT)
    if old == 0:  # a second mapping of the same shared pages
        if m.shared is None or not how & F.MREMAP_MAYMOVE:
            raise GuestError(EINVAL)
    elif addr + old > m.end:
        raise GuestError(EFAULT)  # the old range must lie in one mapping
    piece = m.piece(addr, addr + old) if old else m.piece(addr, addr)
    if how & F.MREMAP_FIXED:
        dst = pointer(new_addr)
        if dst % PAGE or (dst < addr + old and addr < dst + new):
            raise GuestError(EINVAL)
        vm.check_fixed(dst, new)
        mm.release(cage, vm.unmap_pieces(dst, new))
        if new < old:
            mm.release(cage, vm.unmap_pieces(addr + new, old - new))
            piece = m.piece(addr, addr + new)
        return _move(cage, piece, dst, new, keep_old=old == 0)
    if old and new <= old:
        if new < old:
            mm.release(cage, vm.unmap_pieces(addr + new, old - new))
        return addr
    if old and addr + old == m.end and vm.is_free(addr + old, new - old):
        _extend(cage, piece, addr + new)
        return addr
    if not how & F.MREMAP_MAYMOVE:
        raise GuestError(ENOMEM)
    return _move(cage, piece, vm.find_space(new), new, keep_old=old == 0)


def _extend(cage: CageView, piece: Mapping, end: int) -> None:
    """Grow ``piece`` in place to ``end`` (the pages after it are free, hence zero)."""
    grown = Mapping(piece.end, end, piece.prot, piece.shared,
                    piece.offset + piece.end - piece.start, piece.source)
    _fill(cage, grown)
    cage.vm.add(grown)


def _fill(cage: CageView, m: Mapping) -> None:
    """Give the (free, zero) pages of ``m`` its backing's contents."""
    if isinstance(m.shared, shm.HostObject):
        shm.map_object(cage.mem, m.start, m.end, m.shared, m.offset)
    elif isinstance(m.source, shm.FileObject):
        mm.read_file(cage, m.source, m.offset, m.start, m.end)


def _move(cage: CageView, piece: Mapping, dst: int, length: int, *, keep_old: bool) -> int:
    """Map ``piece`` (grown or not) at the free range ``[dst, dst+length)`` and unmap the old."""
    vm = cage.vm
    moved = Mapping(dst, dst + length, piece.prot, piece.shared, piece.offset, piece.source)
    kept = min(length, piece.end - piece.start)
    if isinstance(piece.shared, shm.HostObject):
        _fill(cage, moved)
    else:
        mem = cage.mem
        to = mem.host_range(dst, length)
        ctypes.memmove(to, mem.host_range(piece.start, kept), kept)
        if length > kept:
            _fill(cage, Mapping(dst + kept, dst + length, piece.prot, None,
                                piece.offset + kept, piece.source))
    vm.add(moved)
    if not keep_old:
        mm.release(cage, vm.unmap_pieces(piece.start, piece.end - piece.start))
    return dst


# ------------------------------------------------------------------------------ msync, mincore
def sys_msync(
    cage: CageView, addr: int, length: int, flags: int, *_: int,
) -> int | asyncio.Future[int]:
    start, n, how = pointer(addr), size(length), i32(flags)
    if start % PAGE or how & ~(F.MS_ASYNC | F.MS_INVALIDATE | F.MS_SYNC):
        raise GuestError(EINVAL)
    if how & F.MS_ASYNC and how & F.MS_SYNC:
        raise GuestError(EINVAL)
    end = start + page_up(n)
    vm = cage.vm
    files = [m for m in vm.pieces(start, end) if isinstance(m.shared, shm.FileObject)]
    if not vm.covered(start, end):
        raise GuestError(ENOMEM)
    if not how & F.MS_SYNC or not files:
        return 0  # the page cache already holds every write: nothing to start or invalidate
    ranges = [(cage.mem.host_range(m.start, m.end - m.start), m.end - m.start) for m in files]

    def flush() -> int:  # in a worker thread: writing back may wait for the disk
        for host, n in ranges:
            if _msync(host, n, F.MS_SYNC) != 0:
                err = ctypes.get_errno()
                if err != ENOMEM:  # (the cage unmapped it meanwhile)
                    raise OSError(err, os.strerror(err))
        return 0

    return asyncio.get_running_loop().run_in_executor(None, flush)


def sys_mincore(cage: CageView, addr: int, length: int, vec: int, *_: int) -> int:
    start, n, out = pointer(addr), size(length), pointer(vec)
    if start % PAGE:
        raise GuestError(EINVAL)
    end = start + page_up(n)
    pages = (end - start) // PAGE
    cage.mem.check(out, pages)
    if not cage.vm.covered(start, end) or end > cage.mem.size:
        raise GuestError(ENOMEM)
    if pages == 0:
        return 0
    buf = ctypes.create_string_buffer(pages)
    if _mincore(cage.mem.host_range(start, end - start), end - start, buf) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    cage.mem.write(out, bytes(b & 1 for b in buf.raw))
    return 0


ROWS: list[Row] = [
    (nr.SYS_brk, mm.sys_brk, Support.FULL, ""),
    (nr.SYS_mmap, sys_mmap, Support.FULL, "anonymous, regular files, /dev/zero"),
    (nr.SYS_munmap, mm.sys_munmap, Support.FULL, ""),
    (nr.SYS_mprotect, mm.sys_mprotect, Support.PARTIAL, "recorded; wasm has no page protection"),
    (nr.SYS_madvise, mm.sys_madvise, Support.PARTIAL, "DONTNEED/REMOVE as Linux; hints ignored"),
    (nr.SYS_mremap, sys_mremap, Support.PARTIAL, "no MREMAP_DONTUNMAP"),
    (nr.SYS_msync, sys_msync, Support.FULL, ""),
    (nr.SYS_mincore, sys_mincore, Support.FULL, "host residency"),
]
