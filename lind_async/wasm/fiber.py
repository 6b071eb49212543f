"""Driving wasm on wasmtime fibers from asyncio: the only place that polls call futures.

Theory of operation
-------------------
A wasm call is started with ``wasmtime_func_call_async`` (or an instantiation with
``wasmtime_linker_instantiate_async``), which returns a *call future*. ``_drive`` loops::

    poll(future)            # runs wasm on its fiber until done / host wait / epoch yield
    done?  -> read results, or raise the recorded Python exception / WasmTrap
    host awaitable recorded during that poll?  -> await it, store its value, poll again
    else (epoch yield)      -> await asyncio.sleep(0), poll again

Every poll goes through ``_poll``, or through its inline copy in ``prepared_call.py``, whose
:class:`~lind_async.wasm.prepared_call.PreparedCall` starts a grate worker's call and polls it
once inline, nested in the caller's host call, before handing a call that waits to ``_drive``
(both save and restore ``_current`` and count the poll for the ticker).

Host imports. All async imports are served by ONE module-level ``CFUNCTYPE`` trampoline,
all sync (unchecked) imports by ONE other; their ``env`` is an integer key into
``_entries`` (handler + signature). The calling instance is not taken from ``env``: a
trampoline only ever runs inside ``poll`` of exactly one call, so ``_current`` (set around
every poll, saved/restored so nesting is safe) names the live ``_Call`` and its instance.
A handler returns an ``int`` (written into the result slot; the continuation is *ready*)
or an awaitable (recorded on the ``_Call``; the continuation is *pending*). Wasmtime keeps
the result slot and ``trap_ret`` alive until the continuation reports ready, so the driver
writes the awaited value (or a trap) there directly and then polls; the one module-level
continuation callback just reports ``_Call.resolved``.

Rules / invariants:
- No Python exception ever escapes into C. Anything a handler raises (synchronously, or
  from its awaitable) becomes a wasm trap returned through ``trap_ret``; the exception
  object is recorded on the ``_Call`` and re-raised by ``run_call`` as is (so
  ``raise CageExit(...)`` in a handler surfaces from ``await run_call(...)``).
- Cancellation (``CancelledError``), ``KeyboardInterrupt`` and ``SystemExit`` arriving while
  the driver awaits do not go through wasm: the future is deleted (wasmtime unwinds and
  frees the fiber) and the exception propagates. The store stays usable.
- At most one live call per Store: ``LindInstance._live`` is checked and set here.
- A call future owns pointers to the results array and trap/error out-slots: the ``_Call``
  object holds them until the future has been deleted (always, in ``finally``).
- Every ctypes callback object is module-level and lives for the process; continuation
  ``env`` values are keys into ``_live_calls``, never Python object addresses.
- Python handler code runs on the fiber's native stack (``async_stack_size -
  max_wasm_stack`` is what it has). Keep handlers shallow; do heavy work in the awaitable,
  which runs on the loop's own stack.
- Same code on asyncio and uvloop: only ``await`` on awaitables and ``asyncio.sleep(0)``.

Arguments as seen by handlers: a tuple of Python ints, i32 and i64 values both delivered
**signed** (two's complement as wasm holds them: an i64 of 2**64-1 arrives as -1). Results
may be given signed or unsigned; they are wrapped to the result type's width.

Rejected alternatives: wasmtime-py ``Func``/``Linker.define_func`` (20-29 us per call);
per-import or per-call ``CFUNCTYPE`` objects (one that gets collected while wasmtime holds
it segfaults the process); passing ``id(obj)`` as ``env`` (a stale id after collection is
a use-after-free; integer keys fail safely with a trap).
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import re
import struct
from collections.abc import Awaitable, Callable, Sequence
from ctypes import c_int64, c_size_t, c_void_p
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import wasmtime

from . import capi

if TYPE_CHECKING:
    from .instance import FuncHandle, LindInstance

HandlerResult = int | None | Awaitable[int]
Handler = Callable[["LindInstance", tuple[int, ...]], HandlerResult]
SyncHandler = Callable[["LindInstance", tuple[int, ...]], int | None]


class WasmTrap(Exception):
    """The guest trapped (unreachable, out-of-bounds, bad indirect call, stack overflow ...)."""

    def __init__(self, message: str, code: wasmtime.TrapCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message if self.code is None else f"{self.message} [{self.code.name}]"

    def report(self, program: str) -> str:
        """The trap's message with each backtrace frame naming ``program`` rather than the file
        the module was compiled from (for a ``.c`` run, a temporary file of the compiler)."""
        return _FRAME_MODULE.sub(lambda m: f"{m[1]}{program}!", self.message)


# A wasmtime backtrace frame: "    3:    0x8c3 - MODULE!function".
_FRAME_MODULE = re.compile(r"^(\s*\d+:\s+0x[0-9a-fA-F]+ - )[^!\n]*!", re.MULTILINE)

_SIGILL, _SIGFPE, _SIGSEGV = 4, 8, 11
_TRAP_SIGNALS = {
    wasmtime.TrapCode.UNREACHABLE: _SIGILL,
    wasmtime.TrapCode.INTEGER_DIVISION_BY_ZERO: _SIGFPE,
    wasmtime.TrapCode.INTEGER_OVERFLOW: _SIGFPE,
    wasmtime.TrapCode.BAD_CONVERSION_TO_INTEGER: _SIGFPE,
}


def trap_signal(trap: WasmTrap) -> int:
    """The signal a native process would have died of for the same fault (``SIGSEGV`` for
    memory faults and bad indirect calls, ``SIGILL`` for ``unreachable``, ``SIGFPE`` for integer
    faults)."""
    if trap.code is None:
        return _SIGSEGV
    return _TRAP_SIGNALS.get(trap.code, _SIGSEGV)


class StoreBusyError(RuntimeError):
    """A second call was started on a Store that already has a live call."""


# ---------------------------------------------------------------- registry of imports
@dataclass(frozen=True, slots=True)
class _Entry:
    handler: Callable[..., Any]
    name: str
    nparams: int
    i32_params: tuple[int, ...]
    result_kind: int  # -1: no result
    arr_type: Any  # c_int64 * (stride * nparams)
    # Raw (sync) imports: every parameter in one ``unpack_from`` of the argument array (each
    # slot a 16-byte ``wasmtime_val_raw_t``; an i32 read as its signed low 4 bytes). Unused
    # by async imports.
    unpack: Callable[[Any], tuple[int, ...]]
    # ``arr_type`` views by address: a sync import is called again and again with its
    # arguments at the same few stack addresses, and a view is only a typed address.
    views: dict[int, Any] = field(default_factory=dict)

    def view(self, addr: int) -> Any:
        if len(self.views) >= 256:
            self.views.clear()
        arr = self.views[addr] = self.arr_type.from_address(addr)
        return arr


_entries: dict[int, _Entry] = {}
_keys = itertools.count(1)


def register_import(
    name: str,
    params: Sequence[int],
    results: Sequence[int],
    handler: Callable[..., Any],
    *,
    raw: bool,
) -> int:
    """Register a handler; returns the ``env`` key to give wasmtime for it."""
    if len(results) > 1:
        raise ValueError(f"{name}: at most one result is supported")
    for k in (*params, *results):
        if k not in (capi.KIND_I32, capi.KIND_I64):
            raise ValueError(f"{name}: only i32/i64 parameters and results are supported")
    stride = 2 if raw else 4
    key = next(_keys)
    _entries[key] = _Entry(
        handler=handler,
        name=name,
        nparams=len(params),
        i32_params=tuple(i for i, k in enumerate(params) if k == capi.KIND_I32),
        result_kind=results[0] if results else -1,
        arr_type=c_int64 * max(1, stride * len(params)),
        unpack=struct.Struct(
            "<" + "".join("i12x" if k == capi.KIND_I32 else "q8x" for k in params)
        ).unpack_from,
    )
    return key


def unregister_imports(keys: Sequence[int]) -> None:
    for k in keys:
        _entries.pop(k, None)


# ---------------------------------------------------------------- live calls
class _Call:
    """State of one live call future (a function call or an instantiation)."""

    __slots__ = (
        "awaitable",
        "exc",
        "instance",
        "key",
        "resolved",
        "result_kind",
        "results_addr",
        "trap_addr",
    )

    def __init__(self, instance: LindInstance) -> None:
        self.instance = instance
        self.key = next(_keys)
        self.awaitable: Awaitable[Any] | None = None
        self.exc: BaseException | None = None
        self.resolved = True
        self.results_addr = 0
        self.trap_addr = 0
        self.result_kind = -1


_current: _Call | None = None
_live_calls: dict[int, _Call] = {}

_c_i64x2 = c_int64 * 2
_c_ptrx3 = c_size_t * 3


def _new_trap(message: str) -> int:
    raw = message.encode("utf-8", "replace")
    return int(capi.trap_new(raw, len(raw)) or 0)


def _exc_trap(e: BaseException, entry_name: str) -> int:
    return _new_trap(f"lind host function {entry_name} raised {type(e).__name__}: {e}")


def _write_val(results: int, kind: int, value: int) -> None:
    slot = _c_i64x2.from_address(results)
    slot[0] = kind  # kind byte (+ padding zeroed)
    slot[1] = value  # ctypes wraps out-of-range ints; i32 lives in the low 4 bytes


def _continuation(env: int | None) -> bool:
    call = _live_calls.get(env or 0)
    return True if call is None else call.resolved


def _finalize(env: int | None) -> None:
    return None


_CONT_CB = capi.CONTINUATION_CALLBACK(_continuation)
_FINALIZER_CB = capi.FINALIZER(_finalize)
_CONT_ADDR = capi.fn_addr(_CONT_CB)
_FIN_ADDR = capi.fn_addr(_FINALIZER_CB)


def _async_trampoline(
    env: int | None,
    caller: int | None,
    args: int | None,
    nargs: int,
    results: int | None,
    nresults: int,
    trap_ret: int | None,
    cont_ret: int | None,
) -> None:
    # Must never raise: runs on a wasmtime fiber under a C frame.
    assert cont_ret is not None and trap_ret is not None
    cont = _c_ptrx3.from_address(cont_ret)
    call = _current
    entry = _entries.get(env or 0)
    try:
        if call is None or entry is None:
            raise RuntimeError("lind async import called outside a driven call")
        if nargs:
            vals = entry.arr_type.from_address(args)[1::4]
            for i in entry.i32_params:
                v = vals[i] & 0xFFFFFFFF
                vals[i] = v - ((v >> 31) << 32)
            argv = tuple(vals)
        else:
            argv = ()
        r = entry.handler(call.instance, argv)
        if r is None or isinstance(r, int):
            if nresults and results:
                _write_val(results, entry.result_kind, r or 0)
            cont[0] = _CONT_ADDR
            cont[1] = 0
            cont[2] = 0
            return
        call.awaitable = r
        call.results_addr = (results or 0) if nresults else 0
        call.result_kind = entry.result_kind
        call.trap_addr = trap_ret
        call.resolved = False
        cont[0] = _CONT_ADDR
        cont[1] = call.key
        cont[2] = _FIN_ADDR
    except BaseException as e:
        if call is not None:
            call.exc = e
            call.awaitable = None
            call.resolved = True
        c_size_t.from_address(trap_ret).value = _exc_trap(e, entry.name if entry else "?")
        cont[0] = _CONT_ADDR
        cont[1] = 0
        cont[2] = 0


def _sync_trampoline(env: int | None, caller: int | None, vals_addr: int | None, n: int) -> int:
    # Must never raise. Returns a wasm_trap_t* (0 = success).
    call = _current
    entry = _entries.get(env)  # type: ignore[arg-type]
    try:
        if call is None or entry is None:
            raise RuntimeError("lind sync import called outside a driven call")
        if n and vals_addr:  # (the argument/result slots: a cached view by address)
            arr = entry.views.get(vals_addr)
            if arr is None:
                arr = entry.view(vals_addr)
            r = entry.handler(call.instance, entry.unpack(arr))
            if entry.result_kind >= 0:
                arr[0] = r or 0
            return 0
        entry.handler(call.instance, ())
        return 0
    except BaseException as e:
        if call is not None:
            call.exc = e
        return _exc_trap(e, entry.name if entry else "?")


def fail(exc: BaseException, name: str) -> int:
    """What a sync import's own trampoline (``HostImports.define_sync(trampoline=...)``)
    returns when it fails with ``exc``: the trap, with ``exc`` recorded on the live call so
    ``run_call`` raises it, as the shared trampoline does. Such a trampoline finds its instance
    as the shared one does, from ``_current`` (the live call, set around every poll)."""
    call = _current
    if call is not None:
        call.exc = exc
    return _exc_trap(exc, name)


ASYNC_TRAMPOLINE = capi.ASYNC_CALLBACK(_async_trampoline)
SYNC_TRAMPOLINE = capi.UNCHECKED_CALLBACK(_sync_trampoline)


# ---------------------------------------------------------------- the driver
_PROPAGATE = (asyncio.CancelledError, KeyboardInterrupt, SystemExit)


def _poll(call: _Call, fut: int) -> bool:
    """One poll of ``fut`` with ``call`` current (nesting-safe); True when the call is done."""
    global _current
    prev = _current
    _current = call
    try:
        return call.instance.engine.ticker.poll(fut)  # (counted: see ticker.py)
    finally:
        _current = prev


async def _drive(
    call: _Call, fut: int, trap_slot: c_void_p, err_slot: c_void_p, *, polled: bool = False
) -> None:
    """Poll ``fut`` to completion (``polled``: the first poll already happened and did not
    finish); deletes it; raises the call's failure if any."""
    inst = call.instance
    _live_calls[call.key] = call
    try:
        while True:
            if polled:
                polled = False
            elif _poll(call, fut):
                break
            aw = call.awaitable
            if aw is None:
                await asyncio.sleep(0)  # epoch yield: let the loop run
                hook = inst.preempt_hook
                if hook is not None:
                    # A preemption point (signal delivery): may run other wasm meanwhile, or
                    # raise to end this call (the finally below deletes the future).
                    await hook()
                continue
            call.awaitable = None
            try:
                value = await aw
            except _PROPAGATE:
                raise
            except BaseException as e:  # turn into a trap inside the guest
                call.exc = e
                c_size_t.from_address(call.trap_addr).value = _exc_trap(e, "awaitable")
                call.resolved = True
                continue
            if call.results_addr:
                try:
                    _write_val(call.results_addr, call.result_kind, int(value or 0))
                except (TypeError, ValueError) as e:
                    call.exc = e
                    c_size_t.from_address(call.trap_addr).value = _exc_trap(e, "result")
            call.resolved = True
    finally:
        capi.call_future_delete(fut)
        del _live_calls[call.key]
        call.awaitable = None
    _raise_failure(call, trap_slot, err_slot)


def _raise_failure(call: _Call, trap_slot: c_void_p, err_slot: c_void_p) -> None:
    """After the future is deleted: raise what the call ended with (a handler's exception, a
    trap or an error), if anything."""
    trap = trap_slot.value
    err = err_slot.value
    exc = call.exc
    if exc is not None:
        call.exc = None
        if trap:
            capi.trap_delete(trap)
        if err:
            capi.error_delete(err)
        try:
            raise exc
        finally:  # (this frame, on the traceback, must not hold the exception: a cycle that
            del exc  # kept an exited cage, its Store and memory alive until a collection)
    if trap:
        msg, code = capi.take_trap(trap)
        raise WasmTrap(msg, code)
    if err:
        raise WasmTrap(capi.take_error_message(err), None)


def _claim(inst: LindInstance) -> None:
    if inst._live:
        raise StoreBusyError(
            "this instance's Store already has a live wasm call; use another Store/instance"
        )
    if inst.closed:
        raise RuntimeError("instance is closed")
    inst._live = True


async def run_call(
    instance: LindInstance, func: str | FuncHandle, args: Sequence[int] = ()
) -> list[int]:
    """Call an exported function on the instance's fiber; returns its i32/i64 results.

    Raises the exception a host handler raised, ``WasmTrap`` for a guest trap,
    ``CancelledError`` if cancelled (the Store stays usable), ``StoreBusyError`` if the
    Store already has a live call.
    """
    fh = instance.func(func) if isinstance(func, str) else func
    if fh.instance is not instance:
        raise ValueError("function handle belongs to another instance")
    nparams = len(fh.params)
    if len(args) != nparams:
        raise TypeError(f"{fh.name} takes {nparams} arguments, got {len(args)}")
    _claim(instance)
    try:
        argv = (c_int64 * max(1, 4 * nparams))()
        for i, (k, v) in enumerate(zip(fh.params, args, strict=True)):
            argv[4 * i] = k
            argv[4 * i + 1] = v
        nres = len(fh.results)
        resv = (c_int64 * max(1, 4 * nres))()
        trap_slot = c_void_p(0)
        err_slot = c_void_p(0)
        call = _Call(instance)
        fut = capi.func_call_async(
            instance.ctx,
            ctypes.byref(fh.func),
            argv,
            nparams,
            resv,
            nres,
            ctypes.byref(trap_slot),
            ctypes.byref(err_slot),
        )
        await _drive(call, fut, trap_slot, err_slot)
        out: list[int] = []
        for i, k in enumerate(fh.results):
            v = resv[4 * i + 1]
            if k == capi.KIND_I32:
                v &= 0xFFFFFFFF
                v -= (v >> 31) << 32
            out.append(v)
        return out
    finally:
        instance._live = False


async def drive_instantiation(
    instance: LindInstance, fut_factory: Callable[[int, int], int]
) -> None:
    """Drive an async instantiation future produced by ``fut_factory(trap_ptr, err_ptr)``."""
    _claim(instance)
    try:
        trap_slot = c_void_p(0)
        err_slot = c_void_p(0)
        call = _Call(instance)
        fut = fut_factory(ctypes.addressof(trap_slot), ctypes.addressof(err_slot))
        await _drive(call, fut, trap_slot, err_slot)
    finally:
        instance._live = False


def current_instance() -> LindInstance | None:
    """The instance whose host call is running right now (None outside any host call)."""
    call = _current
    return call.instance if call is not None else None
