"""MAP_SHARED anonymous memory: pages that stay shared between a cage and its fork children.

Theory of operation
-------------------
A cage's linear memory is one host mapping (wasmtime's reservation of the shared memory, grown to
its maximum when the cage starts; ``mem.base`` is guest address 0). ``fork`` gives the child a
*new* memory holding a copy (runtime/fork.py), so a page can only stay shared if the same host
object is mapped into both memories. Each ``mmap(MAP_SHARED|MAP_ANONYMOUS)`` therefore creates a
:class:`SharedAnon` — a host ``memfd_create`` object of the mapping's size — and maps it over the
linear memory at ``mem.base + addr`` with ``mmap(MAP_SHARED|MAP_FIXED)`` (guest and host pages
are both 4 KiB, and a mapping's start is page aligned). The cage's
:class:`~lind_async.core.vmmap.VmMap` records, per mapping, the object and the offset into it of
the mapping's first page, so the pure map splits and copies them like any other attribute.

- ``fork``: the child's copy of the vmmap holds the same objects; the parent's shared ranges are
  not copied but mapped again (:func:`map_all`) at the same guest addresses in the child's memory.
- ``munmap`` (or ``MAP_FIXED`` over it): the host range gets private anonymous zero pages back
  (``mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED)``, read/write as wasmtime left it), and the object
  loses this address space as a user if no other piece of the vmmap still maps it.
- exit and exec: the address space gives up every object (:func:`release_all`); its memory is
  about to be dropped, which unmaps the host pages with it.

An object counts the *address spaces* (vmmaps) that map any part of it, not the pieces; when the
count reaches zero its fd is closed. Host mappings still present (a memory not yet freed) keep
the pages alive on their own, as mappings of a closed file do.

Futexes: a futex word in a shared mapping, used *without* ``FUTEX_PRIVATE_FLAG``, is keyed by
(object, offset) (:func:`futex_key`), as Linux keys shared futexes by inode and offset, so a
waiter in the child is woken by the parent. Private futexes keep the memory-address key.
"""

from __future__ import annotations

import ctypes
import itertools
import os
from collections.abc import Iterable
from typing import Any

from lind_async.abi.errno import EINVAL, ENOMEM, GuestError
from lind_async.core.vmmap import Mapping, VmMap

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


class SharedAnon:
    """One shared anonymous object: a memfd, and how many address spaces map part of it."""

    __slots__ = ("fd", "ident", "size", "users")

    def __init__(self, size: int) -> None:
        fd = os.memfd_create("lind-shared-anon", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
        except OSError:
            os.close(fd)
            raise
        self.fd = fd
        self.size = size
        self.ident = next(_ids)
        self.users = 0

    # A vmmap copy (fork) shares the object, never duplicates it.
    def __copy__(self) -> SharedAnon:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedAnon:
        return self

    def attach(self) -> None:
        self.users += 1

    def detach(self) -> None:
        self.users -= 1
        if self.users <= 0 and self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __repr__(self) -> str:
        return f"SharedAnon(#{self.ident}, {self.size} bytes, users={self.users}, fd={self.fd})"


def _map(host: int, length: int, flags: int, fd: int, offset: int) -> None:
    got = _mmap(host, length, _PROT_RW, flags | _MAP_FIXED, fd, offset)
    if got == _MAP_FAILED or got != host:
        err = ctypes.get_errno()
        raise OSError(err, f"mmap at {host:#x}: {os.strerror(err)}")


def _check_host_range(base: int, start: int, end: int) -> None:
    if (base + start) % _HOST_PAGE or (end - start) % _HOST_PAGE:
        raise ValueError("shared mappings need host-page-aligned ranges")


def create(base: int, start: int, end: int) -> SharedAnon:
    """A new object for ``[start, end)`` of the memory at ``base``, mapped there (``ENOMEM`` if
    the host cannot; ``EINVAL`` if the range is not made of whole host pages, which only a host
    with pages larger than 4 KiB would see)."""
    if (base + start) % _HOST_PAGE or (end - start) % _HOST_PAGE:
        raise GuestError(EINVAL)
    try:
        obj = SharedAnon(end - start)
    except OSError as e:
        raise GuestError(ENOMEM) from e
    try:
        _map(base + start, end - start, _MAP_SHARED, obj.fd, 0)
    except OSError as e:
        os.close(obj.fd)
        obj.fd = -1
        raise GuestError(ENOMEM) from e
    obj.attach()
    return obj


def restore_private(base: int, start: int, end: int) -> None:
    """Put private zero pages back at ``[start, end)`` of the memory at ``base``."""
    _check_host_range(base, start, end)
    _map(base + start, end - start, _MAP_PRIVATE | _MAP_ANONYMOUS, -1, 0)


def shared_pieces(vm: VmMap) -> list[Mapping]:
    return [m for m in vm.mappings() if isinstance(m.shared, SharedAnon)]


def objects(pieces: Iterable[Mapping]) -> list[SharedAnon]:
    """The distinct objects behind ``pieces``, in order."""
    seen: dict[int, SharedAnon] = {}
    for m in pieces:
        if isinstance(m.shared, SharedAnon):
            seen.setdefault(m.shared.ident, m.shared)
    return list(seen.values())


def unmapped(base: int | None, vm: VmMap, released: Iterable[Mapping]) -> None:
    """``released`` pieces left ``vm``: give their host ranges private pages back (when the
    memory at ``base`` is still in use) and detach every object ``vm`` no longer maps."""
    gone = [m for m in released if isinstance(m.shared, SharedAnon)]
    if not gone:
        return
    if base is not None:
        for m in gone:
            restore_private(base, m.start, m.end)
    still = {o.ident for o in objects(shared_pieces(vm))}
    for obj in objects(gone):
        if obj.ident not in still:
            obj.detach()


def map_all(vm: VmMap, base: int) -> None:
    """A fork child's vmmap (a copy of its parent's, sharing its objects): map every shared piece
    into the child's memory at ``base`` and count the child as a user of each object."""
    pieces = shared_pieces(vm)
    for m in pieces:
        obj = m.shared
        assert isinstance(obj, SharedAnon)
        if obj.fd < 0:  # its last user gave it up while this address space still mapped it
            raise MemoryError("fork: a shared mapping's object is gone")
        _map(base + m.start, m.end - m.start, _MAP_SHARED, obj.fd, m.offset)
    for obj in objects(pieces):
        obj.attach()


def release_all(vm: VmMap) -> None:
    """The address space ends (exit, exec): forget its shared pieces and detach their objects.
    Host pages are left alone (the memory is being dropped)."""
    pieces = shared_pieces(vm)
    for m in pieces:
        vm.unmap(m.start, m.end - m.start)
    for obj in objects(pieces):
        obj.detach()


def futex_key(vm: VmMap, addr: int) -> tuple[int, int] | None:
    """The shared-futex key of ``addr`` if it lies in a shared mapping: ``(-ident, offset)``
    (negative, so it never equals a memory-address key)."""
    m = vm.mapping_at(addr)
    if m is None or not isinstance(m.shared, SharedAnon):
        return None
    return (-m.shared.ident, m.offset + addr - m.start)
