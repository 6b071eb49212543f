"""The SIGBUS guard: a shrunk file under a shared mapping is the toucher's SIGBUS, never the
microvisor's death.

Theory of operation
-------------------
``MAP_SHARED`` file mappings are the host file mapped over a cage's linear memory
(rawposix/shm.py). When the file shrinks after it was mapped — another cage's ``truncate``, an
``O_TRUNC`` open through ``/dev/fd``, a host process — a page past the new end has no backing,
and touching it raises ``SIGBUS`` in *this* process: from wasm code, or from a system call
handler copying guest memory (``write(fd, mapped, n)``). Guest truncations that RawPOSIX sees
are fixed up ahead of time (``shm.file_shrunk``); this module covers every other route.

A small native handler (``lind_async/native/faults.c``, built once with the ``ziglang`` wheel's
``zig cc`` into the cache and loaded with ctypes) is installed for ``SIGBUS`` *after* wasmtime's
(an engine exists before any file is mapped, and wasmtime installs its handlers with its first
engine), so it sees the signal first and hands everything it does not own to wasmtime's, which
hands on what it does not own in turn. Each address space that maps a file shared registers its
memory's host range (:func:`watch`, with the engine running it and the cage that owns it). For
a fault in a registered range the handler maps a private zero page over the faulting page (the
access is retried and succeeds), counts it, and bumps the engine's epoch so the running wasm
yields at once.

Delivery is Python's, at the owner's next safe point. The handler raises :data:`FAULTED` (a
word owned here, so the syscall return path can test it with one index before the guard even
exists); :func:`take` (called from ``signals.pending_for``, which every preemption point runs,
and every system call return once the flag is up) clears it and returns the cages whose memory
faulted; ``signals`` posts them ``SIGBUS`` as Linux
forces a fault signal (unblocked, and its default restored if it was ignored). With no handler
the cage dies of ``SIGBUS`` (status 135); with one, the handler runs and the program goes on
with a zero page where the file's page was.

If the handler cannot be built or installed, shared file mappings are refused (``ENODEV``):
without the guard a shrink would kill every cage.

This module sits below the runtime: it knows cages and engines only as the small protocols
below; the runtime tells it how to bump an engine's epoch and where the built handler is
(:func:`configure`, when ``runtime/world.py`` loads — before any cage, hence before any
guard).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lind_async.abi.errno import ENODEV, ENOMEM, GuestError

if TYPE_CHECKING:
    from lind_async.memory.access import GuestMemory


class AddressSpace(Protocol):
    """A cage's address space (``core/vmmap.py``'s ``VmMap``): its memory's size at start."""

    @property
    def limit(self) -> int: ...


class Engine(Protocol):
    """A wasmtime engine, as the guard needs it: its C pointer (the epoch to bump)."""

    @property
    def ptr(self) -> int: ...


class World(Protocol):
    """A cage's world (``runtime/world.py``), as the guard needs it."""

    @property
    def engine(self) -> Engine: ...

    @property
    def cages(self) -> Mapping[int, Owner]: ...


class Owner(Protocol):
    """A cage, as the guard needs it: alive or not, its world (its address space is read
    as ``_vm``, when it has one)."""

    @property
    def status(self) -> int | None: ...

    @property
    def microvisor(self) -> World: ...


log = logging.getLogger("lind_async.faults")

_FLAG = (ctypes.c_uint64 * 1)()  # lives as long as the process (the handler writes it)
FAULTED = memoryview(_FLAG).cast("B").cast("Q")
"""``FAULTED[0]`` is non-zero when a fault was repaired since the last :func:`take`."""
FAULTED_ADDRESS = ctypes.addressof(_FLAG)  # the same word, for the compiled syscall trampoline


@dataclass
class _Watch:
    slot: int
    vm: weakref.ref[AddressSpace]
    owner: weakref.ref[Owner]  # the cage that registered it (see owner())
    engine: Engine  # kept alive while the handler may bump its epoch
    seen: int = 0  # faults already handed to the owner

    def current_owner(self) -> Owner | None:
        """The live cage using this address space: the one that registered it, else (it ended
        or exec'd away from a memory it shared, as a vfork child does) another cage of its
        microvisor whose memory map this is."""
        vm = self.vm()
        owner = self.owner()
        if vm is None or owner is None:
            return None
        if owner.status is None and getattr(owner, "_vm", None) is vm:
            return owner
        for cage in list(owner.microvisor.cages.values()):
            if cage.status is None and getattr(cage, "_vm", None) is vm:
                self.owner = weakref.ref(cage)
                return cage
        return None


class _Guard:
    """The loaded handler library and the slots in use (one writer at a time)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        lib.lind_fault_install.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
        lib.lind_fault_install.restype = ctypes.c_int
        lib.lind_fault_slots.restype = ctypes.c_int
        lib.lind_fault_watch.argtypes = (
            ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t)
        lib.lind_fault_watch.restype = None
        lib.lind_fault_unwatch.argtypes = (ctypes.c_int,)
        lib.lind_fault_unwatch.restype = None
        lib.lind_fault_count.argtypes = (ctypes.c_int, ctypes.POINTER(ctypes.c_size_t))
        lib.lind_fault_count.restype = ctypes.c_uint64
        self.free = list(range(lib.lind_fault_slots() - 1, -1, -1))
        self.watches: dict[int, _Watch] = {}
        self.by_vm: weakref.WeakKeyDictionary[AddressSpace, _Watch] = weakref.WeakKeyDictionary()
        self.lock = threading.Lock()

    def install(self) -> None:
        if _epoch_bump is None:
            raise OSError("runtime/world.py is not loaded: no epoch bump")
        err = self.lib.lind_fault_install(_epoch_bump, ctypes.addressof(_FLAG))
        if err:
            raise OSError(-err, f"installing the SIGBUS handler: {os.strerror(-err)}")


_guard: _Guard | None = None
_failure: str | None = None
_load_lock = threading.Lock()
_epoch_bump: int | None = None
_library: Callable[[], Path] | None = None


def configure(*, epoch_bump: int | None, library: Callable[[], Path] | None) -> None:
    """What the guard needs from above (the runtime (runtime/world.py) sets it when it loads):
    ``epoch_bump``, the host address of ``wasmtime_engine_increment_epoch(engine)``, which the
    handler calls on a fault; ``library``, which returns the built handler library
    (``native/faults.c``, built by the toolchain on first use)."""
    global _epoch_bump, _library
    _epoch_bump, _library = epoch_bump, library


def guard() -> _Guard:
    """The installed guard (built and installed on first use); ``ENODEV`` if it cannot be."""
    global _guard, _failure
    if _guard is not None:
        return _guard
    with _load_lock:
        if _guard is None and _failure is None:
            try:
                if _library is None:
                    raise OSError("no handler library: runtime/world.py is not loaded")
                loaded = _Guard(ctypes.CDLL(str(_library())))
                loaded.install()
                _guard = loaded
            except Exception as exc:  # any failure: no guard, so no shared file mappings
                _failure = str(exc)
                log.warning("no SIGBUS guard (%s): MAP_SHARED file mappings are refused", exc)
    if _guard is None:
        raise GuestError(ENODEV)
    return _guard


def watch(vm: AddressSpace, mem: GuestMemory, owner: Owner) -> None:
    """``owner``'s address space ``vm`` (its memory ``mem``) maps a file shared: guard its whole
    linear memory (once per address space). ``ENOMEM`` if every slot is used; ``ENODEV``
    without a guard; ``EFAULT`` if ``vm`` spans more than ``mem``."""
    start = mem.host_range(0, vm.limit)
    g = guard()
    with g.lock:
        current = g.by_vm.get(vm)
        if current is not None:
            current.owner = weakref.ref(owner)  # the cage mapping now (a vfork child, say)
            return
        if not g.free:
            raise GuestError(ENOMEM)
        slot = g.free.pop()
        engine = owner.microvisor.engine
        g.lib.lind_fault_watch(slot, start, start + vm.limit, engine.ptr)
        w = _Watch(slot, weakref.ref(vm), weakref.ref(owner), engine)
        g.watches[slot] = w
        g.by_vm[vm] = w


def unwatch(vm: AddressSpace) -> None:
    """``vm`` ends (exit, exec): its memory is no longer guarded."""
    g = _guard
    if g is None:
        return
    with g.lock:
        w = g.by_vm.pop(vm, None)
        if w is None:
            return
        g.lib.lind_fault_unwatch(w.slot)
        del g.watches[w.slot]
        g.free.append(w.slot)


def take() -> list[Owner]:
    """The cages whose memory faulted since the last call (each once), to be sent ``SIGBUS``.
    Costs one flag read when nothing happened."""
    g = _guard
    if g is None or not FAULTED[0]:
        return []
    faulted = []
    with g.lock:
        FAULTED[0] = 0  # (the handler counts a fault before it raises the flag)
        last = ctypes.c_size_t()
        for w in g.watches.values():
            count = g.lib.lind_fault_count(w.slot, ctypes.byref(last))
            if count == w.seen:
                continue
            w.seen = count
            owner = w.current_owner()
            if owner is not None:
                faulted.append(owner)
    return faulted


def watched(vm: AddressSpace) -> bool:
    """Whether ``vm``'s memory is guarded now (tests)."""
    g = _guard
    return g is not None and vm in g.by_vm
