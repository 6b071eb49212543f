"""Fiber stacks for Stores: made by us, kept after a Store ends for the next one.

Theory of operation
-------------------
Every Store runs its async calls (and its async instantiation) on a native fiber stack of
``EngineConfig.async_stack_size`` bytes (17 MiB, reserved). wasmtime's default makes one per
Store (an ``mmap`` of the reservation, an ``mprotect``) and unmaps it when the Store is deleted,
so the pages a Store's wasm frames and Python host calls touched are faulted in, zeroed, and
freed again by every new Store — a fork child's among them, every fork.

The engine is given a *stack creator* (``wasmtime_config_host_stack_creator_set``): wasmtime
asks it for a stack when a Store first needs one and calls the stack's finalizer when the
Store lets it go. A stack here is one private anonymous mapping: a guard page at the low end
(``PROT_NONE``: a host call running off the end faults, as with wasmtime's own stacks) and
``size`` bytes above it. A finished stack goes back to a free list (:data:`SPARE`, newest
first) with all but its top :data:`KEEP_RESIDENT` bytes given back (``MADV_DONTNEED``: a deep
recursion does not stay resident in a spare); a new Store takes one of the same size, else a
new mapping is made. A stack asked for *zeroed* is always a new mapping. Native stack contents
are never visible to wasm (its locals start at zero; the host reads no uninitialised stack),
which is why wasmtime's own pooling allocator reuses stacks without zeroing them too.

Three ctypes callbacks per Store (new, the stack's bounds once, finalizer), each ~1 us, against
the ``mmap``/``mprotect``/``munmap`` and the page faults they save (measured in the fork loop:
CPU per fork 401-415 -> 376-390 us). A callback never raises into wasmtime: a failure to map is
returned as a wasmtime error (the Store's call fails, as when wasmtime cannot map one itself).
The free list and the live table are process-wide, touched with the GIL held, from whichever
thread creates or deletes a Store.
"""

from __future__ import annotations

import ctypes
from ctypes import c_int, c_size_t, c_void_p
from typing import Any

from wasmtime import _ffi as wffi

SPARE = 16
"""Finished stacks kept for the next Stores."""
KEEP_RESIDENT = 256 << 10
"""Bytes at the top of a kept stack that stay resident (a Store's usual depth)."""

_PAGE = 4096
_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc.mmap
_mmap.argtypes = (c_void_p, c_size_t, c_int, c_int, c_int, ctypes.c_long)
_mmap.restype = c_void_p
_munmap = _libc.munmap
_munmap.argtypes = (c_void_p, c_size_t)
_munmap.restype = c_int
_mprotect = _libc.mprotect
_mprotect.argtypes = (c_void_p, c_size_t, c_int)
_mprotect.restype = c_int
_madvise = _libc.madvise
_madvise.argtypes = (c_void_p, c_size_t, c_int)
_madvise.restype = c_int
_PROT_NONE, _PROT_RW = 0, 0x1 | 0x2
_MAP_PRIVATE_ANON_NORESERVE = 0x02 | 0x20 | 0x4000
_MAP_FAILED = ctypes.c_void_p(-1).value
_MADV_DONTNEED = 4
_error_new = wffi.wasmtime_error_new

_spare: list[tuple[int, int]] = []  # (base, size) of finished stacks, newest last
_live: dict[int, tuple[int, int]] = {}  # env key -> (base, size)
_next_key = [0]


def _map(size: int) -> int:
    """A new stack: guard page + ``size`` bytes; its base (the guard page's address)."""
    base = _mmap(None, size + _PAGE, _PROT_NONE, _MAP_PRIVATE_ANON_NORESERVE, -1, 0)
    if base is None or base == _MAP_FAILED:
        raise OSError(ctypes.get_errno(), "mmap")
    if _mprotect(base + _PAGE, size, _PROT_RW) != 0:
        err = ctypes.get_errno()
        _munmap(base, size + _PAGE)
        raise OSError(err, "mprotect")
    return int(base)


def _get_memory(env: int | None, out_len: Any) -> int:
    base, size = _live.get(env or 0, (0, 0))
    out_len[0] = size
    return base + _PAGE + size if base else 0  # (the top: stacks grow down)


def _finish(env: int | None) -> None:
    entry = _live.pop(env or 0, None)
    if entry is None:
        return
    base, size = entry
    if len(_spare) < SPARE:
        if size > KEEP_RESIDENT:
            _madvise(base + _PAGE, size - KEEP_RESIDENT, _MADV_DONTNEED)
        _spare.append(entry)
    else:
        _munmap(base, size + _PAGE)


_GET = wffi.wasmtime_stack_memory_get_callback_t(_get_memory)
_FINISH = ctypes.CFUNCTYPE(None, c_void_p)(_finish)


def _new_stack(_env: int | None, size: int, zeroed: bool, ret: Any) -> int:
    try:
        size = -(-size // _PAGE) * _PAGE
        base = 0
        if not zeroed:
            for i in range(len(_spare) - 1, -1, -1):
                if _spare[i][1] == size:
                    base = _spare.pop(i)[0]
                    break
        if not base:
            base = _map(size)
        _next_key[0] += 1
        key = _next_key[0]
        _live[key] = (base, size)
        out = ret[0]
        out.env = key
        out.get_stack_memory = _GET
        out.finalizer = _FINISH
        return 0
    except BaseException as exc:  # (never into wasmtime): the Store's call fails instead
        err = _error_new(f"lind: no fiber stack: {exc}".encode())
        return int(ctypes.cast(err, c_void_p).value or 0)


_NEW = wffi.wasmtime_new_stack_memory_callback_t(_new_stack)
_NO_FINALIZER = ctypes.CFUNCTYPE(None, c_void_p)(lambda _env: None)
CREATOR = wffi.wasmtime_stack_creator_t(None, _NEW, _NO_FINALIZER)
"""The creator every engine is configured with (alive for the process, as the engines may be)."""


def install(config: Any) -> None:
    """Make the engine of ``config`` (a ``wasm_config_t`` pointer) take its fiber stacks from
    here."""
    wffi.wasmtime_config_host_stack_creator_set(config, ctypes.byref(CREATOR))


def spare_count() -> int:
    """Finished stacks kept now (for tests)."""
    return len(_spare)
