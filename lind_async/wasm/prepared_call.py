"""Calls of one export made again and again (a grate worker's entry point), started and polled
*inline* from the caller's host call: :class:`PreparedCall`.

Theory of operation
-------------------
A :class:`PreparedCall` allocates the argument/result buffers, the trap/error out-slots and the
call record (``fiber._Call``) once, and passes wasmtime their addresses (ctypes converts plain
ints fastest). Each call claims the store, starts the call future and polls it once — a *nested*
poll when the caller is itself a host function on another store's fiber: wasmtime switches from
the calling fiber to the callee's (each store has its own fiber and async context). The poll is
``fiber._poll`` written out inline (it is on every grate hop): the trampolines' ``_current`` is
saved and restored around it and the ticker counts it. A call that finishes in that poll returns
its result at once, without a task or a loop turn; one that must wait (a host awaitable, an
epoch yield) returns an awaitable that drives the rest with ``fiber._drive``, exactly as
:func:`fiber.run_call` would.

*Arguments.* :meth:`PreparedCall.call_pairs` (a grate entry point's ``fn, cage, a1, a1cage, …``)
writes only the argument words that differ from the last call's, through a memoryview of the
buffer: a caller's owners are the same tuple call after call, and its arguments often the same
values. A value outside int64 (or another shape) takes the general path, which wraps as ctypes
does. Every call leaves the out-slots and call record clean for the next (``_clean``), so the
common path resets nothing; a view of each out-slot reads it as a plain word.

*Epoch deadline.* A store left idle while the epoch advanced has a deadline in the past, and its
first function entry would yield; the inline call gives it a fresh slice, unless the ticker has
not ticked since the last slice was given (see ``PreparedCall._start``).

*Not a sync call.* ``wasmtime_func_call_unchecked`` enters a nop export in ~0.5 us against ~2.6
us for this path, but it cannot be used for a guest's handler: an async import reached from it
aborts the process, an epoch yield fails the call half-way, and the engine's 16 MiB wasm stack
limit is measured from wherever the call starts, so deep recursion overruns the native stack
(``docs/decisions.md``, "Grate hops").
"""

from __future__ import annotations

import ctypes
from collections.abc import Awaitable, Callable, Sequence
from ctypes import c_int64, c_void_p
from typing import TYPE_CHECKING

from . import capi, fiber
from .fiber import _Call, _claim, _drive, _live_calls, _raise_failure

if TYPE_CHECKING:
    from .instance import FuncHandle, LindInstance

__all__ = ["PreparedCall"]

_call_async = capi.func_call_async_addrs
_future_poll = capi.call_future_poll
_future_delete = capi.call_future_delete
# The native start (``native/grate_entry.c``, wired by ``threei/native.py``): start, first poll
# and, if it finished, delete in one call; its result is 0 or the pending future. None: ctypes.
# The native starts (``native/grate_entry.c``, wired by ``threei/native.py``): start, first poll
# and, if it finished, delete in one call; 0 (finished), 1 (finished, with a trap or an error in
# the out-slots) or the pending future; ``call_pairs`` writes the arguments first (-2: another
# shape, nothing ran). None: ctypes.
_native_start: Callable[[int, bool], int] | None = None
_native_pairs: Callable[[int, bool, int, int, Sequence[int], Sequence[int]], int] | None = None


def use_native_start(
    start: Callable[[int, bool], int],
    pairs: Callable[[int, bool, int, int, Sequence[int], Sequence[int]], int],
) -> None:
    """Start prepared calls with ``start(prepared, fresh_slice)`` and
    ``pairs(prepared, fresh_slice, first, second, values, tags)`` (see ``_Prepared``)."""
    global _native_start, _native_pairs
    _native_start, _native_pairs = start, pairs


class _Prepared(ctypes.Structure):
    """``wasmtime_func_call_async``'s arguments in its order, for the native start; then what
    the native C hop reads (``native/grate_entry.c``'s ``struct prepared``): the PreparedCall
    it belongs to, the result's kind, and the hop linked to this call (see :meth:`PreparedCall.
    link`)."""

    _fields_ = (
        ("ctx", c_void_p),
        ("func", c_void_p),
        ("argv", c_void_p),
        ("nparams", ctypes.c_size_t),
        ("resv", c_void_p),
        ("nresults", ctypes.c_size_t),
        ("trap", c_void_p),
        ("err", c_void_p),
        ("owner", c_void_p),
        ("kind", c_int64),
        ("link", c_void_p),
        ("link_nr", c_int64),
        ("link_target", c_int64),
        ("link_gen", c_int64),
        ("link_handler", c_int64),
    )


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
        "_call_args",
        "_err_ref",
        "_err_slot",
        "_err_word",
        "_first",
        "_func_ref",
        "_kind",
        "_link",
        "_nparams",
        "_nresults",
        "_pairs",
        "_prepared",
        "_prepared_ref",
        "_result_at",
        "_result_view",
        "_resv",
        "_resv_ref",
        "_second",
        "_tags",
        "_ticker",
        "_ticks_at_deadline",
        "_trap_ref",
        "_trap_slot",
        "_trap_word",
        "_values",
        "_words",
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
        # The result as a signed value of its width: an i64 is the second word, an i32 the low
        # half of it (the third 32-bit word).
        result_bytes = memoryview(self._resv).cast("B")
        self._result_view = result_bytes.cast("i" if self._kind == capi.KIND_I32 else "q")
        self._result_at = 2 if self._kind == capi.KIND_I32 else 1
        # The trap and error out-slots, each with a view that reads it as a plain word.
        self._trap_slot = c_void_p(0)
        self._err_slot = c_void_p(0)
        self._trap_word = memoryview(self._trap_slot).cast("B").cast("Q")
        self._err_word = memoryview(self._err_slot).cast("B").cast("Q")
        self._ticker = instance.engine.ticker
        # Addresses of what never moves (kept alive by the attributes above and ``fh``).
        self._func_ref = ctypes.addressof(fh.func)
        self._trap_ref = ctypes.addressof(self._trap_slot)
        self._err_ref = ctypes.addressof(self._err_slot)
        self._argv_ref = ctypes.addressof(self._argv)
        self._resv_ref = ctypes.addressof(self._resv)
        self._call = _Call(instance)
        # ``wasmtime_func_call_async``'s arguments: all fixed (the store, the function, buffers)
        self._call_args = (
            instance.ctx,
            self._func_ref,
            self._argv_ref,
            self._nparams,
            self._resv_ref,
            self._nresults,
            self._trap_ref,
            self._err_ref,
        )
        self._prepared = _Prepared(*self._call_args)
        self._prepared.owner = id(self)  # (borrowed: this object owns the struct)
        self._prepared.kind = self._kind
        self._prepared_ref = ctypes.addressof(self._prepared)
        self._link: tuple[object, ...] | None = None
        self._ticks_at_deadline = -1  # the ticker's count when this store's deadline was set
        # ``call_pairs`` on a 14-parameter entry point: the argument words (a ``wasmtime_val_t``
        # is four words, its value the second) and what was last written there.
        self._pairs = self._nparams == 14
        self._words = memoryview(self._argv).cast("B").cast("q")
        self._first: int | None = None
        self._second: int | None = None
        self._values: tuple[int, ...] | None = None
        self._tags: tuple[int, ...] | None = None

    def link(self, link: tuple[object, ...] | None, nr: int, target: int, generation: int,
             handler: int) -> None:
        """Link the native C hop for this call's ``lind.threei_call`` of ``nr`` on behalf of
        ``target`` (``threei/guest_import.py`` builds ``link``, the objects the hop uses, once
        its own checks passed); None unlinks. This object holds the tuple; the struct borrows
        it."""
        prepared = self._prepared
        prepared.link = None
        self._link = link
        if link is not None:
            prepared.link_nr = nr
            prepared.link_target = target
            prepared.link_gen = generation
            prepared.link_handler = handler
            prepared.link = id(link)

    def unlink_before(self, generation: int) -> None:
        """Drop the link if it was made before the routes' ``generation``: it can serve no call
        again, and it holds the cages and pool it names (perhaps gone since)."""
        if self._link is not None and self._prepared.link_gen != generation:
            self.link(None, 0, 0, 0, 0)

    def linked(self, nr: int, target: int, generation: int) -> bool:
        """Whether the C hop is linked for exactly this number, target and routes' generation."""
        prepared = self._prepared
        return (
            self._link is not None
            and prepared.link_nr == nr
            and prepared.link_target == target
            and prepared.link_gen == generation
        )

    def __call__(self, args: Sequence[int]) -> int | Awaitable[int]:
        """The export's result if it finished without waiting, else an awaitable of it."""
        if len(args) != self._nparams:
            raise TypeError(f"{self.fh.name} takes {self._nparams} arguments, got {len(args)}")
        self._first = self._values = self._tags = None  # (what call_pairs wrote last)
        argv = self._argv
        for i, v in enumerate(args):
            argv[4 * i + 1] = v
        return self._start()

    def call_pairs(
        self, first: int, second: int, values: Sequence[int], tags: Sequence[int]
    ) -> int | Awaitable[int]:
        """``self([first, second, values[0], tags[0], values[1], tags[1], …])`` without building
        the list (a grate entry point's ``fn, cage, a1, a1cage, …`` shape). Natively, the words
        are written and the call started in one call (``_start``'s work around it written out
        here: this is every C grate hop the native C hop does not serve); through ctypes, only
        what differs from the last call is written (a caller's owners are the same tuple call
        after call, and its arguments often the same values)."""
        pairs = _native_pairs
        if pairs is not None:
            instance = self.instance
            if instance._live or instance.closed:
                _claim(instance)  # raises
            instance._live = True
            ticker = self._ticker
            ticks = ticker.ticks
            fresh = ticks != self._ticks_at_deadline  # (see _start)
            if fresh:
                self._ticks_at_deadline = ticks
            call = self._call
            key = call.key
            _live_calls[key] = call
            prev = fiber._current
            fiber._current = call
            ticker.active += 1
            if ticker._parked:
                ticker._start_or_wake()
            try:
                out = pairs(self._prepared_ref, fresh, first, second, values, tags)
            except BaseException:
                del _live_calls[key]
                instance._live = False
                raise
            finally:
                ticker.active -= 1
                fiber._current = prev
            if out != -2:
                return self._end(out)
            del _live_calls[key]  # another shape: written by Python, started as any call
            instance._live = False
            self._ticks_at_deadline = -1
            self._first = self._values = self._tags = None  # (the native writes bypass them)
        self._write_pairs(first, second, values, tags)
        return self._start()

    def _write_pairs(
        self, first: int, second: int, values: Sequence[int], tags: Sequence[int]
    ) -> None:
        if self._pairs and values.__class__ is tuple and tags.__class__ is tuple:
            try:
                if first != self._first or second != self._second:
                    self._first = None
                    words = self._words
                    words[1] = first
                    words[5] = second
                    self._first, self._second = first, second
                if values != self._values:  # (a tuple: equal now, equal for good)
                    self._values = None
                    a1, a2, a3, a4, a5, a6 = values
                    words = self._words
                    words[9] = a1
                    words[17] = a2
                    words[25] = a3
                    words[33] = a4
                    words[41] = a5
                    words[49] = a6
                    self._values = values
                if tags != self._tags:
                    self._tags = None
                    c1, c2, c3, c4, c5, c6 = tags
                    words = self._words
                    words[13] = c1
                    words[21] = c2
                    words[29] = c3
                    words[37] = c4
                    words[45] = c5
                    words[53] = c6
                    self._tags = tags
                return
            except (ValueError, TypeError):  # not six pairs, or a value outside int64
                pass
        self._first = self._values = self._tags = None
        self._set_pairs(first, second, values, tags)

    def _set_pairs(
        self, first: int, second: int, values: Sequence[int], tags: Sequence[int]
    ) -> None:
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

    def _start(self) -> int | Awaitable[int]:
        instance = self.instance
        if instance._live or instance.closed:
            _claim(instance)  # raises
        instance._live = True
        # A store left idle while the epoch advanced has a deadline in the past: its first
        # function entry would yield. Give the inline call a fresh slice instead — unless the
        # ticker has not ticked since the last one was given (the deadline is still ahead).
        # The ticker counts a tick just after making it, so a tick in between can be missed:
        # that call then yields at once and finishes as a waiting call would (never wrong).
        ticker = self._ticker
        ticks = ticker.ticks
        fresh = ticks != self._ticks_at_deadline
        if fresh:
            self._ticks_at_deadline = ticks
        call = self._call
        key = call.key
        start = _native_start
        if start is None:  # through ctypes: start, poll, delete
            if fresh:
                capi.context_set_epoch_deadline(instance.ctx, 1)
            try:
                fut = _call_async(*self._call_args)
            except BaseException:
                instance._live = False
                raise
        _live_calls[key] = call
        # fiber._poll, inline (this is every grate hop): the trampolines' ``_current`` is saved
        # and restored around the poll, and the ticker counts it.
        prev = fiber._current
        fiber._current = call
        ticker.active += 1
        if ticker._parked:
            ticker._start_or_wake()
        try:
            if start is None:
                out = 0
                if _future_poll(fut):
                    _future_delete(fut)
                    out = 1 if self._trap_word[0] or self._err_word[0] else 0
                else:
                    out = fut
            else:  # the native start: start, poll and (if it finished) delete in one call
                out = start(self._prepared_ref, fresh)
        except BaseException:
            if start is None:
                _future_delete(fut)
            del _live_calls[key]
            self._clean()
            instance._live = False
            raise
        finally:
            ticker.active -= 1
            fiber._current = prev
        return self._end(out)

    def _end(self, out: int) -> int | Awaitable[int]:
        """The call once its first poll returned ``out`` (the native start's: 0, 1 or the
        pending future): its result when it simply finished, else :meth:`_settle`'s."""
        call = self._call
        if out == 0 and call.exc is None:
            del _live_calls[call.key]
            self.instance._live = False
            if self._kind < 0:
                return 0
            result: int = self._result_view[self._result_at]
            return result
        return self._settle(out)

    def _settle(self, out: int) -> int | Awaitable[int]:
        """A call that did not simply finish: its failure raised (``out`` 0 or 1: it finished),
        or an awaitable of the rest (``out``: the pending future)."""
        if out > 1:
            return self._finish(out)
        del _live_calls[self._call.key]
        self.instance._live = False
        try:
            _raise_failure(self._call, self._trap_slot, self._err_slot)
        finally:
            self._clean()
        return self._result()

    def _result(self) -> int:
        if self._kind < 0:
            return 0
        result: int = self._result_view[self._result_at]
        return result

    async def _finish(self, fut: int) -> int:
        self._ticks_at_deadline = -1  # it yielded or waits: give the next call a fresh slice
        call = self._call
        try:
            await _drive(call, fut, self._trap_slot, self._err_slot, polled=True)
            return self._result()
        finally:
            self._clean()
            self.instance._live = False

    def _clean(self) -> None:
        """The out-slots and call record as a new call needs them (every call leaves them so)."""
        self._trap_slot.value = None
        self._err_slot.value = None
        call = self._call
        call.awaitable = None
        call.exc = None
        call.resolved = True
