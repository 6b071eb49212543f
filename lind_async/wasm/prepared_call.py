"""Calls of one export made again and again (a grate worker's entry point), started and polled
*inline* from the caller's host call: :class:`PreparedCall`.

Theory of operation
-------------------
A :class:`PreparedCall` allocates the argument/result buffers, the trap/error out-slots and the
call record (``fiber._Call``) once, and passes wasmtime their addresses (ctypes converts plain
ints fastest). Each call claims the store, starts the call future and polls it once with
``fiber._poll`` — a *nested* poll when the caller is itself a host function on another store's
fiber: wasmtime switches from the calling fiber to the callee's (each store has its own fiber and
async context), and ``_poll`` saves and restores the trampolines' ``_current`` around it. A call
that finishes in that poll returns its result at once, without a task or a loop turn; one that
must wait (a host awaitable, an epoch yield) returns an awaitable that drives the rest with
``fiber._drive``, exactly as :func:`fiber.run_call` would.

*Epoch deadline.* A store left idle while the epoch advanced has a deadline in the past, and its
first function entry would yield; the inline call gives it a fresh slice, unless the ticker has
not ticked since the last slice was given (see ``PreparedCall._start``).

This is on the path of every grate hop: the driver's functions are module globals here, bound
once at import, as they were in ``fiber.py``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Awaitable, Sequence
from ctypes import c_int64, c_void_p
from typing import TYPE_CHECKING

from . import capi
from .fiber import _Call, _claim, _drive, _live_calls, _poll, _raise_failure

if TYPE_CHECKING:
    from .instance import FuncHandle, LindInstance

__all__ = ["PreparedCall"]


class PreparedCall:
    """Calls of one export made again and again (a grate worker's entry point), each started
    and polled once *inline*, with the argument/result buffers, out-slots and call record
    allocated once. One call at a time (the Store allows no more).

    Inline: a call that finishes without waiting returns its result at once, without a task or a
    loop turn, so one store's host function can run another store's wasm (a grate handler for a
    cage's system call). The nested poll switches from the calling fiber to the callee's, which
    wasmtime supports (each store has its own fiber and async context); ``_current`` is saved and
    restored around it. A call that must wait returns an awaitable driving the rest, exactly as
    :func:`run_call` would."""

    __slots__ = (
        "_argv",
        "_argv_ref",
        "_call",
        "_err_ref",
        "_err_slot",
        "_func_ref",
        "_kind",
        "_nparams",
        "_nresults",
        "_resv",
        "_resv_ref",
        "_ticks_at_deadline",
        "_trap_ref",
        "_trap_slot",
        "fh",
        "instance",
    )

    def __init__(self, instance: LindInstance, func: str | FuncHandle) -> None:
        fh = instance.func(func) if isinstance(func, str) else func
        if fh.instance is not instance:
            raise ValueError("function handle belongs to another instance")
        if len(fh.results) > 1:
            raise ValueError(f"{fh.name}: a prepared call returns at most one i32 or i64")
        self.instance = instance
        self.fh = fh
        self._nparams = len(fh.params)
        self._kind = fh.results[0] if fh.results else -1  # the result's kind (-1: none)
        self._nresults = len(fh.results)
        self._argv = (c_int64 * max(1, 4 * self._nparams))()
        for i, k in enumerate(fh.params):
            self._argv[4 * i] = k
        self._resv = (c_int64 * 4)()
        self._trap_slot = c_void_p(0)
        self._err_slot = c_void_p(0)
        # Addresses of what never moves (kept alive by the attributes above and ``fh``).
        self._func_ref = ctypes.addressof(fh.func)
        self._trap_ref = ctypes.addressof(self._trap_slot)
        self._err_ref = ctypes.addressof(self._err_slot)
        self._argv_ref = ctypes.addressof(self._argv)
        self._resv_ref = ctypes.addressof(self._resv)
        self._call = _Call(instance)
        self._ticks_at_deadline = -1  # the ticker's count when this store's deadline was set

    def __call__(self, args: Sequence[int]) -> int | Awaitable[int]:
        """The export's result if it finished without waiting, else an awaitable of it."""
        if len(args) != self._nparams:
            raise TypeError(f"{self.fh.name} takes {self._nparams} arguments, got {len(args)}")
        argv = self._argv
        for i, v in enumerate(args):
            argv[4 * i + 1] = v
        return self._start()

    def call_pairs(
        self, first: int, second: int, values: Sequence[int], tags: Sequence[int]
    ) -> int | Awaitable[int]:
        """``self([first, second, values[0], tags[0], values[1], tags[1], …])`` without building
        the list (a grate entry point's ``fn, cage, a1, a1cage, …`` shape)."""
        if 2 + 2 * len(values) != self._nparams or len(tags) != len(values):
            raise TypeError(f"{self.fh.name} takes {self._nparams} arguments")
        argv = self._argv
        argv[1] = first
        argv[5] = second
        i = 9
        for value, tag in zip(values, tags, strict=True):
            argv[i] = value
            argv[i + 4] = tag
            i += 8
        return self._start()

    def _start(self) -> int | Awaitable[int]:
        instance = self.instance
        _claim(instance)
        # A store left idle while the epoch advanced has a deadline in the past: its first
        # function entry would yield. Give the inline call a fresh slice instead — unless the
        # ticker has not ticked since the last one was given (the deadline is still ahead).
        # The ticker counts a tick just after making it, so a tick in between can be missed:
        # that call then yields at once and finishes as a waiting call would (never wrong).
        ticks = instance.engine.ticker.ticks
        if ticks != self._ticks_at_deadline:
            capi.context_set_epoch_deadline(instance.ctx, 1)
            self._ticks_at_deadline = ticks
        self._trap_slot.value = None
        self._err_slot.value = None
        call = self._call
        call.awaitable = None
        call.exc = None
        call.resolved = True
        try:
            fut = capi.func_call_async_addrs(
                instance.ctx,
                self._func_ref,
                self._argv_ref,
                self._nparams,
                self._resv_ref,
                self._nresults,
                self._trap_ref,
                self._err_ref,
            )
        except BaseException:
            instance._live = False
            raise
        _live_calls[call.key] = call
        try:
            done = _poll(call, fut)
        except BaseException:
            capi.call_future_delete(fut)
            del _live_calls[call.key]
            instance._live = False
            raise
        if not done:
            return self._finish(fut)
        capi.call_future_delete(fut)
        del _live_calls[call.key]
        call.awaitable = None
        instance._live = False
        _raise_failure(call, self._trap_slot, self._err_slot)
        return self._result()

    def _result(self) -> int:
        if self._kind < 0:
            return 0
        v = int(self._resv[1])
        if self._kind == capi.KIND_I32:
            v &= 0xFFFFFFFF
            v -= (v >> 31) << 32
        return v

    async def _finish(self, fut: int) -> int:
        self._ticks_at_deadline = -1  # it yielded or waits: give the next call a fresh slice
        try:
            await _drive(self._call, fut, self._trap_slot, self._err_slot, polled=True)
            return self._result()
        finally:
            self.instance._live = False
