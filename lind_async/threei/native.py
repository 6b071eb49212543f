"""The grate hop's native glue (``native/grate_entry.c``): loaded once, optional.

Theory of operation
-------------------
:func:`install` builds the library into the cache on first use (zig, as for ``lind.syscall``'s
trampoline), loads it and wires its pieces to the Python code they stand in for:

- the ``lind.threei_call`` trampoline, returned for ``HostImports.define_sync(trampoline=…)``:
  it calls :func:`lind_async.threei.guest_import.threei_entry` with the fourteen arguments as
  ints (the ctypes path goes through the shared sync trampoline, ``fiber._sync_trampoline``);
- ``start``, handed to ``wasm/prepared_call.py`` (:func:`~lind_async.wasm.prepared_call.
  use_native_start`): a prepared call's start, first poll and (when it finished) delete in one
  call instead of three ctypes calls;
- ``run``, handed to the hop (``threei/route.py``, ``route._run``): a Python grate's hop in
  one call (``native/grate_python.c``: the in-flight count, the ``Call``, the handler, a
  coroutine stepped once with ``PyIter_Send``, the count released when it simply gave an int);
- ``Call.forward`` (same file): with no arguments, the Python method's hot path (the hop into
  a Python grate below, or RawPOSIX with no route) without its frame; anything else is the
  Python method;
- ``Forward.__await__`` for a result already there, and makers of a forward's ``Forward``
  (every slot set in one call; an int result's from a small pool of reused ones);
- the C hop: a C grate's forward to the next C grate served in C, by a *link* that
  :func:`lind_async.threei.guest_import.threei_entry` makes after checking a forward in full
  (``guest_import._link``), re-checked on every call: no route changed (``ThreeI.generation``),
  no cage involved exited or is dying, the grate has not exec'd, and ``authority.acts_for``
  (asked each time) still says yes. Anything else — and every outcome but a plain result —
  goes to Python. ``LIND_ASYNC_NO_C_HOP`` leaves it unwired (the Python hop serves).

Where the library cannot be built or loaded, or ``LIND_ASYNC_PYTHON_ENTRY`` is set (which also
selects ``lind.syscall``'s Python trampoline), nothing is wired and the Python paths serve: the
results are the same, only slower (``tests/e2e/test_grates_c.py`` runs both).
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path
from typing import Any

from lind_async.core.lifecycle import Lifecycle
from lind_async.threei import grate_calls, guest_import, route, wasm_grates
from lind_async.threei.tables import ThreeI
from lind_async.wasm import capi, fiber, prepared_call

log = logging.getLogger("lind_async.threei")

_chosen: list[Any] = []  # [(library, threei trampoline) or None], once chosen for the process


def install(cache_dir: Path) -> Any:
    """Load the glue (first call only) and return the ``lind.threei_call`` trampoline, or None
    when the Python paths serve."""
    if not _chosen:
        _chosen.append(_load(cache_dir))
    chosen = _chosen[0]
    return None if chosen is None else chosen[1]


def active() -> bool:
    """Whether the native glue is in use (after :func:`install`)."""
    return bool(_chosen) and _chosen[0] is not None


def c_hops() -> int:
    """How many forwards the native C hop has served in this process (0 when it is not wired)."""
    if not _chosen or _chosen[0] is None:
        return 0
    return int(ctypes.c_uint64.in_dll(_chosen[0][0], "lind_c_hops").value)


def _load(cache_dir: Path) -> tuple[Any, Any] | None:
    if os.environ.get("LIND_ASYNC_PYTHON_ENTRY"):
        return None
    try:
        from lind_async.toolchain.native import grate_entry_library

        path = str(grate_entry_library(cache_dir))
        lib = ctypes.CDLL(path)
        init = ctypes.PyDLL(path).lind_threei_init  # (takes a reference: keeps the GIL)
        init.argtypes = (ctypes.py_object, ctypes.c_void_p)
        init.restype = None
        grate_init = lib.lind_grate_init
        grate_init.argtypes = (ctypes.c_void_p,) * 4
        grate_init.restype = None
        function = ctypes.PyDLL(path).lind_grate_function  # (makes objects: keeps the GIL)
        function.argtypes = (ctypes.c_int,)
        function.restype = ctypes.py_object
        awaiter = ctypes.PyDLL(path).lind_grate_await
        awaiter.argtypes = (ctypes.py_object, ctypes.py_object)
        awaiter.restype = ctypes.py_object
        maker = ctypes.PyDLL(path).lind_grate_maker
        maker.argtypes = (ctypes.py_object, ctypes.py_object, ctypes.c_int)
        maker.restype = ctypes.c_void_p  # (a new reference, or NULL: taken below)
        python_hop = ctypes.PyDLL(path).lind_grate_python_hop
        python_hop.argtypes = (ctypes.py_object,)
        python_hop.restype = ctypes.c_void_p  # (a new reference, or NULL: taken below)
        forwarder = ctypes.PyDLL(path).lind_grate_forward
        forwarder.argtypes = (ctypes.py_object,) * 7
        forwarder.restype = ctypes.c_void_p  # (a new reference, or NULL: taken below)
        hop_init = ctypes.PyDLL(path).lind_grate_hop_init  # (takes references: keeps the GIL)
        hop_init.argtypes = (ctypes.py_object,) * 6 + (ctypes.c_void_p,)
        hop_init.restype = ctypes.c_int
        kept = ctypes.c_void_p.in_dll(lib, "lind_threei_trap")
        trampoline = ctypes.cast(lib.lind_threei_trampoline, capi.UNCHECKED_CALLBACK)
    except Exception as exc:  # no zig, no compiler output, no loader: Python's paths serve
        log.info("grate hops: the native glue is unavailable (%s); using Python's", exc)
        return None

    def address(fn: Any) -> int | None:
        return ctypes.cast(fn, ctypes.c_void_p).value

    grate_init(
        address(capi.lib.wasmtime_func_call_async),
        address(capi.lib.wasmtime_call_future_poll),
        address(capi.lib.wasmtime_call_future_delete),
        address(capi.lib.wasmtime_context_set_epoch_deadline),
    )
    init(guest_import.threei_entry, address(capi.lib.wasmtime_trap_new))

    def keep_in_c(trap: int) -> None:
        kept.value = trap or None

    guest_import.use_trap_keeper(keep_in_c)
    prepared_call.use_native_start(function(0), function(1))
    grate_calls.use_native_await(awaiter)
    forward, slots = grate_calls.Forward, grate_calls.FORWARD_SLOTS
    ready = _maker(maker, forward, slots, pooled=True)
    grate_calls.use_forward_maker(_maker(maker, forward, slots), ready)
    call_maker = _maker(maker, grate_calls.Call, route.CALL_SLOTS)
    if call_maker is not None:
        run = _taken(python_hop(call_maker))
        route.use_python_hop(run)
        if run is not None and ready is not None:

            def make_forward(call: type, slow: Any, rest: Any, failed: Any, dispatch: Any) -> Any:
                return _taken(forwarder(call, run, ready, slow, rest, failed, dispatch))

            grate_calls.use_native_forward(make_forward)
    if not os.environ.get("LIND_ASYNC_NO_C_HOP") and _hop(hop_init, address):
        guest_import.use_c_hop(function(2))
    return (lib, trampoline)


def _hop(hop_init: Any, address: Any) -> bool:
    """Wire the C hop (``native/grate_entry.c``): whether every slot it reads was found."""
    classes = (Lifecycle, wasm_grates._Worker, prepared_call.PreparedCall, fiber._Call, ThreeI)
    return bool(
        hop_init(
            fiber._live_calls,
            vars(fiber),
            guest_import._c_hop_tail,
            guest_import._c_hop_killed,
            guest_import._c_hop_wake,
            classes,
            address(capi.lib.wasmtime_caller_context),
        )
    )  # the library stays loaded as long as its functions are kept


def _taken(made: int | None) -> Any:
    """The object a native call returned as a new reference by address (None for NULL)."""
    return None if not made else ctypes.cast(made, ctypes.py_object).value


def _maker(maker: Any, cls: type, slots: tuple[str, ...], pooled: bool = False) -> Any:
    """``maker(cls, slots, pooled)``'s builtin (it takes its new reference over), or None."""
    if set(slots) != set(getattr(cls, "__slots__", ())):  # every slot, each once
        return None
    return _taken(maker(cls, slots, int(pooled)))
