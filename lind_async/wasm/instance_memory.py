"""Shared linear memories, and the spare ones a new cage or a fork child takes instead.

Theory of operation
-------------------
A :class:`SharedMemoryHandle` is one wasm shared linear memory (``wasmtime_sharedmemory_t``):
wasmtime reserves its maximum (4 GiB and guards by default) once and never moves it. Creating
one (an ``mmap`` of the reservation, an ``mprotect``) and deleting it (an ``munmap`` of the
whole reservation) cost ~20-40 us each, paid by every fork child (new at the fork, gone at its
exit) — about a sixth of a small fork+exit+wait — and by every cage a server starts per request.

So a memory whose last user is gone is *retired* into its engine's :class:`SparePool` instead
of deleted, when it was marked :attr:`SharedMemoryHandle.reusable` (every cage's and fork
child's: ``runtime/cage.py``, ``runtime/fork.py``), and a new cage (reserved to the same size)
or a fork child takes one of the same type and size (:meth:`SharedMemoryHandle.spare`).
Retiring maps fresh anonymous zero pages over all of ``[0, size)`` (one ``mmap`` with
``MAP_FIXED``): what the last cage left there — its own pages,
its copy-on-write snapshot's mapping, shared objects mapped over it — is gone before anyone
else can get the memory, and a spare reads as zeros. A fork child then maps the parent's
snapshot over the whole of it (``memory/cow.py``).

When is a memory's last user gone? Only when nothing can reach it: the Python handle is dead
(its finalizer runs: no ``GuestMemory``, instance or grate call holds it any more) *and* every
Store that imported it was closed (:attr:`SharedMemoryHandle.stores`: counted up by each
``LindInstance`` made over it, down by its ``close``). A Store dropped without ``close`` keeps
the count up, and such a memory is deleted, never reused. The finalizer captures only the raw
pointer and a small state cell, never the handle.

Each memory also keeps the ``InstancePre`` its last instantiation made (``wasm/instance.py``:
the module's imports resolved against the engine's host functions and this memory, once), so
the next instance over it — a thread's, or the next fork child's that took it as a spare —
skips the linker. :func:`keep_pre` and :func:`pre_of` hold it by the memory's pointer, and
every deletion of a memory deletes its ``InstancePre`` first (it holds a reference to the
memory: the reservation would outlive the delete, and a later memory at the same address
would find it). It holds no guest data, only the definitions.

Invariants:
- A spare is never mapped by a Store (its count was 0) and reads as zeros over ``[0, size)``.
- The pool holds at most :data:`SPARES` memories per engine (the oldest is deleted when
  another is retired); each costs its reservation of address space (untouched zero pages:
  no memory). Nothing is capped: a child that finds no spare creates a memory as before.
- The pool goes (its memories deleted) when its engine does.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from ctypes import c_uint64, c_void_p
from typing import TYPE_CHECKING

import wasmtime

from . import capi

if TYPE_CHECKING:
    from .engine import LindEngine

SPARES = 8
"""Retired memories kept per engine (enough for a shell's or a server's few children at once)."""

_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc.mmap
_mmap.argtypes = (c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                  ctypes.c_long)
_mmap.restype = c_void_p
_PROT_RW = 0x1 | 0x2
_MAP_PRIVATE_ANON_FIXED = 0x02 | 0x20 | 0x10
_MAP_FAILED = ctypes.c_void_p(-1).value

Key = tuple[int, int, int]  # (min pages, max pages, current pages)


# Per memory (its pointer): (the key it was made for, the InstancePre pointer).
_pres: dict[int, tuple[object, int]] = {}


def pre_of(ptr: int, key: object) -> int:
    """The InstancePre kept for memory ``ptr`` if it was made for ``key`` (compared by
    equality: the caller's key holds the module and the imports it was made from), else 0."""
    entry = _pres.get(ptr)
    return entry[1] if entry is not None and entry[0] == key else 0


def keep_pre(ptr: int, key: object, pre: int) -> None:
    """Keep ``pre`` (made for ``key``) with memory ``ptr``, replacing (deleting) any other."""
    old = _pres.get(ptr)
    _pres[ptr] = (key, pre)
    if old is not None and old[1] != pre:
        capi.instance_pre_delete(old[1])


def _delete(ptr: int) -> None:
    """Delete a memory, its InstancePre first."""
    entry = _pres.pop(ptr, None)
    if entry is not None:
        capi.instance_pre_delete(entry[1])
    capi.sharedmemory_delete(ptr)


class SparePool:
    """Retired memories of one engine, by type and size (the newest last)."""

    __slots__ = ("__weakref__", "closed", "lock", "spares")

    def __init__(self) -> None:
        self.spares: list[tuple[Key, int]] = []
        self.closed = False
        # (A finalizer may retire a memory from any thread, even from a collection that runs
        # while this thread holds the lock: reentrant.)
        self.lock = threading.RLock()

    def take(self, key: Key) -> int | None:
        with self.lock:
            spares = self.spares
            for i in range(len(spares) - 1, -1, -1):
                if spares[i][0] == key:
                    return spares.pop(i)[1]
        return None

    def put(self, key: Key, ptr: int) -> None:
        with self.lock:
            if self.closed:
                old = ptr
            else:
                self.spares.append((key, ptr))
                old = self.spares.pop(0)[1] if len(self.spares) > SPARES else 0
        if old:
            _delete(old)

    def clear(self) -> None:
        with self.lock:
            self.closed = True
            spares, self.spares = self.spares, []
        for _, ptr in spares:
            _delete(ptr)


_pools: weakref.WeakKeyDictionary[LindEngine, SparePool] = weakref.WeakKeyDictionary()


def _pool(engine: LindEngine) -> SparePool:
    pool = _pools.get(engine)
    if pool is None:
        pool = _pools[engine] = SparePool()
        weakref.finalize(engine, pool.clear)
    return pool


def spare_count(engine: LindEngine) -> int:
    """How many retired memories ``engine`` keeps now (for tests)."""
    pool = _pools.get(engine)
    return 0 if pool is None else len(pool.spares)


def zero(ptr: int) -> bool:
    """Map fresh anonymous zero pages over all of memory ``ptr`` (what any cage left there —
    its pages, its snapshot's mapping, shared objects — goes); False if the host could not."""
    size = int(capi.sharedmemory_data_size(ptr))
    base = int(capi.sharedmemory_data(ptr) or 0)
    return not size or _mmap(base, size, _PROT_RW, _MAP_PRIVATE_ANON_FIXED, -1, 0) == base


def _retire(pool_ref: weakref.ReferenceType[SparePool], ptr: int, state: list[int]) -> None:
    """The handle is dead: keep its memory as a spare (zeroed) when it may be, else delete it.
    ``state``: [Stores still over it, reusable, min pages, max pages]."""
    pool = pool_ref()
    if pool is None or state[0] != 0 or not state[1]:
        _delete(ptr)
        return
    if not zero(ptr):
        _delete(ptr)  # (could not zero it: never reused)
        return
    pool.put((state[2], state[3], int(capi.sharedmemory_size(ptr))), ptr)


class SharedMemoryHandle:
    """A wasm shared linear memory, usable by any number of Stores of one engine."""

    def __init__(
        self,
        engine: LindEngine,
        min_pages: int,
        max_pages: int,
        memtype: wasmtime.MemoryType | None = None,
        *,
        ptr: int = 0,
    ) -> None:
        if not ptr:
            ty = memtype or wasmtime.MemoryType(wasmtime.Limits(min_pages, max_pages),
                                                shared=True)
            out = c_void_p(0)
            err = capi.sharedmemory_new(engine.ptr, capi.addr(ty.ptr()), ctypes.byref(out))
            capi.check_error(err, "creating shared memory")
            ptr = int(out.value or 0)
        self.engine = engine
        self.ptr: int = ptr
        self.base: int = int(capi.sharedmemory_data(self.ptr) or 0)
        self.max_pages = max_pages
        self.limits = (min_pages, max_pages)
        self.max_bytes = max_pages * capi.WASM_PAGE
        self._view: memoryview | None = None
        self._view_len = -1
        # [Stores over it, reusable, min pages, max pages]: what the finalizer decides by.
        self._state = [0, 0, min_pages, max_pages]
        self._finalizer = weakref.finalize(self, _retire, weakref.ref(_pool(engine)), self.ptr,
                                           self._state)

    @classmethod
    def for_module(cls, engine: LindEngine, module: wasmtime.Module) -> SharedMemoryHandle:
        """A new memory of the type the module imports."""
        from .instance import module_spec  # (instance.py imports this module)

        spec = module_spec(module)
        if spec.memory is None:
            raise ValueError("module does not import a memory")
        _, _, lo, hi = spec.memory
        return cls(engine, lo, hi, spec.memtype)

    @classmethod
    def spare(cls, engine: LindEngine, limits: tuple[int, int],
              pages: int) -> SharedMemoryHandle | None:
        """A retired memory with these ``limits`` (min and max pages: those of the memory a
        fork child copies), ``pages`` large and all zeros, if the engine keeps one; marked
        reusable in turn."""
        pool = _pools.get(engine)
        ptr = None if pool is None else pool.take((*limits, pages))
        if ptr is None:
            return None
        handle = cls(engine, limits[0], limits[1], ptr=ptr)
        handle._state[1] = 1
        return handle

    @property
    def reusable(self) -> bool:
        """Whether the memory may be retired as a spare once its last user is gone."""
        return bool(self._state[1])

    @reusable.setter
    def reusable(self, value: bool) -> None:
        self._state[1] = int(value)

    @property
    def stores(self) -> int:
        """Stores made over this memory and not closed yet."""
        return self._state[0]

    def store_opened(self) -> None:
        self._state[0] += 1

    def store_closed(self) -> None:
        self._state[0] -= 1

    def size(self) -> int:
        """Current size in bytes."""
        return int(capi.sharedmemory_data_size(self.ptr))

    def pages(self) -> int:
        return int(capi.sharedmemory_size(self.ptr))

    def grow(self, pages: int) -> int:
        """Grow by ``pages``; returns the old size in pages, or -1 if it cannot grow."""
        if pages < 0:
            return -1
        prev = c_uint64(0)
        err = capi.sharedmemory_grow(self.ptr, pages, ctypes.byref(prev))
        if err:
            capi.error_delete(err)
            return -1
        return int(prev.value)

    def view(self) -> memoryview:
        """Zero-copy writable view of the whole current memory (re-derived after growth)."""
        n = capi.sharedmemory_data_size(self.ptr)
        v = self._view
        if v is None or n != self._view_len:
            v = memoryview((ctypes.c_ubyte * n).from_address(self.base)).cast("B")
            self._view = v
            self._view_len = n
        return v

    def read(self, addr: int, n: int) -> bytes:
        v = self.view()
        if addr < 0 or n < 0 or addr + n > len(v):
            raise IndexError("read outside linear memory")
        return bytes(v[addr : addr + n])

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        v = self.view()
        if addr < 0 or addr + len(data) > len(v):
            raise IndexError("write outside linear memory")
        v[addr : addr + len(data)] = data

    def close(self) -> None:
        """Drop this handle's reference (Stores using the memory keep theirs). Never retired:
        someone may still hold a view of it."""
        self._view = None
        self._state[1] = 0
        self._finalizer()
