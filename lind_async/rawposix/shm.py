"""Host objects mapped over a cage's linear memory: MAP_SHARED memory (anonymous or a file)
that stays shared between a cage, its fork children and (files) everyone else, and the files
private file mappings were read from.

Theory of operation
-------------------
A cage's linear memory is one host mapping (wasmtime's reservation of the shared memory, grown to
its maximum when the cage starts). ``fork`` gives the child a
*new* memory whose private pages are copy-on-write copies (runtime/fork.py, memory/cow.py), so
a page can only stay shared if the same host object is mapped into both memories. A
:class:`HostObject` is such an object, held by an fd:

- :class:`SharedAnon`: each ``mmap(MAP_SHARED|MAP_ANONYMOUS)`` creates a host ``memfd_create``
  object of the mapping's size (grown by ``mremap``);
- :class:`FileObject`: a ``dup`` of a regular file's host fd (the mapping outlives the guest's
  ``close``, as on Linux). ``MAP_SHARED`` maps the file itself, so the page cache is shared with
  every other mapping of it and with ``read``/``write``: ``msync``/``munmap`` write-back is the
  kernel's own. A file opened read-only can only be mapped shared without ``PROT_WRITE``; the host
  maps it ``MAP_PRIVATE`` (read-write, as all of linear memory must be), which reads the same
  pages until someone writes one — which the guest may not. A *private* file mapping is a copy
  (read into the range); its object only remembers the file (``Mapping.source``).

An object is mapped over the linear memory at ``mem.host_range(addr, n)`` with ``mmap(MAP_FIXED)``
(guest and host pages are both 4 KiB, and a mapping's start is page aligned; the range is
bounds-checked first, so nothing is ever mapped outside the memory). File pages wholly
past the end of the file are never host-mapped (touching them would raise ``SIGBUS`` in the
microvisor): they stay private zero pages. The cage's :class:`~lind_async.core.vmmap.VmMap`
records, per mapping, the object and the offset into it of the mapping's first page, so the pure
map splits and copies them like any other attribute.

- ``fork``: the child's copy of the vmmap holds the same objects; the parent's shared ranges are
  not copied but mapped again (:func:`map_all`) at the same guest addresses in the child's memory.
- ``munmap`` (or ``MAP_FIXED`` over it): the host range gets private anonymous zero pages back
  (``mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED)``, read/write as wasmtime left it), and the object
  loses this address space as a user if no other piece of the vmmap still uses it.
- exit and exec: the address space gives up every object (:func:`release_all`); its memory is
  about to be dropped, which unmaps the host pages with it.

An object counts the *address spaces* (vmmaps) that use any part of it, not the pieces; when the
count reaches zero its fd is closed. Host mappings still present (a memory not yet freed) keep
the pages alive on their own, as mappings of a closed file do.

Futexes: a futex word in a shared mapping, used *without* ``FUTEX_PRIVATE_FLAG``, is keyed by
(object, offset) (:func:`futex_key`), as Linux keys shared futexes by inode and offset, so a
waiter in the child is woken by the parent; every mapping of one file shares a key. Private
futexes keep the memory-address key.

Truncation: a file that shrinks *after* it was mapped shared would leave host pages past its new
end mapped, and touching one raises ``SIGBUS`` — in the microvisor, which would kill every cage.
So every guest truncation RawPOSIX sees (``ftruncate``, ``truncate``, ``open(O_TRUNC)``) calls
:func:`file_shrunk`, which puts private zero pages over those pages in every address space
mapping the file (natively the program would get ``SIGBUS`` there). Every other route (a
truncation by a host process, or one RawPOSIX does not see) is caught by the SIGBUS guard
(memory/faults.py, through the process layer): each address space mapping a file shared has
its memory registered with it, and a touch of such a page becomes that cage's own ``SIGBUS``.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from lind_async.abi.errno import EINVAL, ENOMEM, GuestError
from lind_async.core.vmmap import Mapping, VmMap
from lind_async.memory import GuestMemory, cow

if TYPE_CHECKING:
    pass
from lind_async.rawposix import hostfds

_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc.mmap
_mmap.argtypes = (
    ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_mmap.restype = ctypes.c_void_p
_MAP_FAILED = ctypes.c_void_p(-1).value

_PROT_RW = 0x3
_MAP_SHARED, _MAP_PRIVATE, _MAP_FIXED, _MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
_HOST_PAGE = os.sysconf("SC_PAGE_SIZE")

_ids = itertools.count(1)
_file_keys: dict[tuple[int, int], int] = {}  # (st_dev, st_ino) -> shared futex key
# Address spaces that have mapped a file shared, with their memory (file_shrunk).
_spaces: weakref.WeakKeyDictionary[VmMap, GuestMemory] = weakref.WeakKeyDictionary()


class HostObject:
    """A host fd whose pages are mapped over linear memory, and how many address spaces use it.

    ``host_flags``: how it is mapped (``MAP_SHARED``, or ``MAP_PRIVATE`` for a file only readable
    through its fd); ``writable``: whether ``PROT_WRITE`` may be granted on a shared mapping;
    ``key``: the shared-futex identity (one per anonymous object, one per file)."""

    __slots__ = ("fd", "host_flags", "ident", "key", "users", "writable")

    def __init__(self, fd: int, host_flags: int, *, writable: bool, key: int = 0) -> None:
        self.fd = fd
        self.host_flags = host_flags
        self.writable = writable
        self.ident = next(_ids)
        self.key = key or self.ident
        self.users = 0

    # A vmmap copy (fork) shares the object, never duplicates it.
    def __copy__(self) -> HostObject:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> HostObject:
        return self

    def attach(self) -> None:
        self.users += 1

    def detach(self) -> None:
        self.users -= 1
        if self.users <= 0 and self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def mappable(self, offset: int, length: int) -> int:
        """How many bytes of ``[offset, offset+length)`` may be host-mapped (made available
        first when the object can grow)."""
        return length


class SharedAnon(HostObject):
    """One shared anonymous object: a memfd."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        fd = hostfds.open_fd(lambda: os.memfd_create("lind-shared-anon", os.MFD_CLOEXEC))
        try:
            os.ftruncate(fd, size)
        except OSError:
            os.close(fd)
            raise
        super().__init__(fd, _MAP_SHARED, writable=True)
        self.size = size

    def mappable(self, offset: int, length: int) -> int:
        if offset + length > self.size:  # mremap grew a mapping of it
            os.ftruncate(self.fd, offset + length)
            self.size = offset + length
        return length

    def __repr__(self) -> str:
        return f"SharedAnon(#{self.ident}, {self.size} bytes, users={self.users}, fd={self.fd})"


class FileObject(HostObject):
    """A regular file behind a mapping: a ``dup`` of its host fd."""

    __slots__ = ()

    def __init__(self, host_fd: int, *, shared: bool, writable: bool) -> None:
        st = os.fstat(host_fd)
        key = _file_keys.setdefault((st.st_dev, st.st_ino), next(_ids))
        flags = _MAP_SHARED if shared and writable else _MAP_PRIVATE
        fd = hostfds.open_fd(lambda: os.dup(host_fd))
        super().__init__(fd, flags, writable=writable, key=key)

    def file_size(self) -> int:
        return os.fstat(self.fd).st_size

    def mappable(self, offset: int, length: int) -> int:
        last = (self.file_size() + _HOST_PAGE - 1) // _HOST_PAGE * _HOST_PAGE
        return max(0, min(length, last - offset))

    def __repr__(self) -> str:
        return f"FileObject(#{self.ident}, users={self.users}, fd={self.fd})"


def _map(host: int, length: int, flags: int, fd: int, offset: int) -> None:
    got = _mmap(host, length, _PROT_RW, flags | _MAP_FIXED, fd, offset)
    if got == _MAP_FAILED or got != host:
        err = ctypes.get_errno()
        raise OSError(err, f"mmap at {host:#x}: {os.strerror(err)}")


def _host_pages(mem: GuestMemory, start: int, end: int) -> int | None:
    """The host address of ``[start, end)`` of ``mem`` (``EFAULT`` outside it), or None when the
    range is not made of whole host pages."""
    host = mem.host_range(start, end - start)
    if host % _HOST_PAGE or (end - start) % _HOST_PAGE:
        return None
    return host


def create(mem: GuestMemory, start: int, end: int) -> SharedAnon:
    """A new object for ``[start, end)`` of ``mem``, mapped there (``ENOMEM`` if the host
    cannot; ``EINVAL`` if the range is not made of whole host pages, which only a host with
    pages larger than 4 KiB would see)."""
    host = _host_pages(mem, start, end)
    if host is None:
        raise GuestError(EINVAL)
    try:
        obj = SharedAnon(end - start)
    except OSError as e:
        raise GuestError(ENOMEM) from e
    try:
        _map(host, end - start, _MAP_SHARED, obj.fd, 0)
    except OSError as e:
        os.close(obj.fd)
        obj.fd = -1
        raise GuestError(ENOMEM) from e
    obj.attach()
    return obj


def map_object(mem: GuestMemory, start: int, end: int, obj: HostObject, offset: int) -> None:
    """Map ``obj`` from ``offset`` over ``[start, end)`` of ``mem`` (for a file, only its pages
    up to the end of the file; the rest is left as it is). ``ENOMEM`` if the host cannot,
    ``EINVAL`` for ranges of partial host pages."""
    host = _host_pages(mem, start, end)
    if host is None or offset % _HOST_PAGE:
        raise GuestError(EINVAL)
    try:
        length = obj.mappable(offset, end - start)
        if length:
            _map(host, length, obj.host_flags, obj.fd, offset)
    except OSError as e:
        raise GuestError(ENOMEM) from e


def track(vm: VmMap, mem: GuestMemory) -> None:
    """``vm`` (its memory ``mem``) maps a file shared: :func:`file_shrunk` must visit it."""
    _spaces[vm] = mem


def file_shrunk(st: os.stat_result) -> None:
    """The file ``st`` describes may have shrunk: host pages of shared mappings of it lying
    wholly past its end become private zero pages, so no access can raise ``SIGBUS``."""
    key = _file_keys.get((st.st_dev, st.st_ino))
    if key is None:
        return  # never mapped
    last = (st.st_size + _HOST_PAGE - 1) // _HOST_PAGE * _HOST_PAGE
    for vm, mem in list(_spaces.items()):
        for m in vm.mappings():
            if isinstance(m.shared, FileObject) and m.shared.key == key:
                cut = max(m.start, m.start + last - m.offset)
                if cut < m.end:
                    restore_private(mem, cut, m.end)


def restore_private(mem: GuestMemory, start: int, end: int) -> None:
    """Put private zero pages back at ``[start, end)`` of ``mem``."""
    host = _host_pages(mem, start, end)
    if host is None:
        raise ValueError("shared mappings need host-page-aligned ranges")
    _map(host, end - start, _MAP_PRIVATE | _MAP_ANONYMOUS, -1, 0)


def shared_pieces(vm: VmMap) -> list[Mapping]:
    return [m for m in vm.mappings() if isinstance(m.shared, HostObject)]


def _backed(m: Mapping) -> bool:
    return isinstance(m.shared, HostObject) or isinstance(m.source, HostObject)


def objects(pieces: Iterable[Mapping]) -> list[HostObject]:
    """The distinct objects behind ``pieces`` (shared or source), in order."""
    seen: dict[int, HostObject] = {}
    for m in pieces:
        for obj in (m.shared, m.source):
            if isinstance(obj, HostObject):
                seen.setdefault(obj.ident, obj)
    return list(seen.values())


def unmapped(mem: GuestMemory | None, vm: VmMap, released: Iterable[Mapping]) -> None:
    """``released`` pieces left ``vm``: give their shared host ranges private pages back (when
    its memory ``mem`` is still in use) and detach every object ``vm`` no longer uses."""
    gone = [m for m in released if _backed(m)]
    if not gone:
        return
    if mem is not None:
        for m in gone:
            if isinstance(m.shared, HostObject) and not cow.zero_pages(
                mem.handle, m.start, m.end, remap=True
            ):
                restore_private(mem, m.start, m.end)
    still = {o.ident for o in objects(vm.mappings())}
    for obj in objects(gone):
        if obj.ident not in still:
            obj.detach()


def map_all(vm: VmMap, mem: GuestMemory, guard: Callable[[], None] | None = None) -> None:
    """A fork child's vmmap (a copy of its parent's, sharing its objects): map every shared piece
    into the child's memory ``mem`` and count the child as a user of each object. A child
    mapping a file shared is guarded against ``SIGBUS`` as its parent was (``guard``, the
    process layer's: it knows whose memory this is)."""
    pieces = [m for m in vm.mappings() if _backed(m)]
    for obj in objects(pieces):
        if obj.fd < 0:  # its last user gave it up while this address space still used it
            raise MemoryError("fork: a mapping's host object is gone")
    if guard is not None and any(isinstance(m.shared, FileObject) for m in pieces):
        guard()
    for m in pieces:
        if isinstance(m.shared, HostObject):
            map_object(mem, m.start, m.end, m.shared, m.offset)
            if isinstance(m.shared, FileObject):
                track(vm, mem)
    for obj in objects(pieces):
        obj.attach()


def release_all(vm: VmMap) -> None:
    """The address space ends (exit, exec): forget its backed pieces and detach their objects.
    Host pages are left alone (the memory is being dropped; the process layer stops guarding
    it)."""
    pieces = [m for m in vm.mappings() if _backed(m)]
    for m in pieces:
        vm.unmap(m.start, m.end - m.start)
    for obj in objects(pieces):
        obj.detach()


def futex_key(vm: VmMap, addr: int) -> tuple[int, int] | None:
    """The shared-futex key of ``addr`` if it lies in a shared mapping: ``(-key, offset)``
    (negative, so it never equals a memory-address key)."""
    m = vm.mapping_at(addr)
    if m is None or not isinstance(m.shared, HostObject):
        return None
    return (-m.shared.key, m.offset + addr - m.start)
