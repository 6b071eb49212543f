"""Epoch ticker: the clock that ends a cage's time slice.

Theory of operation
-------------------
Every Store is armed with ``epoch_deadline_async_yield_and_update(1)``: when the engine's
epoch passes the store's deadline, the running wasm yields out of
``wasmtime_call_future_poll`` (poll returns false with no host awaitable recorded) and the
deadline moves to ``epoch + 1``. The cage task then does ``await asyncio.sleep(0)`` and
polls again, so other tasks run between slices.

Who ticks: a single daemon thread calling ``wasmtime_engine_increment_epoch`` every
``time_slice`` seconds. A loop timer cannot do it - while wasm runs the loop thread is
inside ``poll`` (with the GIL released, which is what lets this thread run).

Idle costs nothing: ``fiber.py`` counts every poll (``poll()``, or ``enter()``/``leave()``: a plain
counter on the loop thread, and a count of entries). The thread ticks only while the counter
is non-zero; when it finds the counter at zero at a tick *and no poll began during the slice
just slept* it parks on a ``threading.Event``. ``enter()`` sets the event only when the thread
is parked (attribute read otherwise), so a hot loop of short polls does not pay a lock per
poll. (Parking at the first tick that found no poll running parked and woke the thread about
once per slice in a loop of short polls — a fork loop: 651 wakes in 3,000 forks — each an
``Event.set`` and a GIL hand-over to the ticker; the count of entries keeps it awake while
polls keep coming, and it parks after one whole slice without any.)

Lost-wakeup argument: the ticker marks itself parked, clears the event, then re-reads the
counter before waiting. An ``enter()`` that raced with it either ran before the re-read
(the re-read sees the count) or after the ``parked`` flag was set (it sets the event).

The thread is started on the first poll by ``_thread.start_new_thread``, which returns at once:
``threading.Thread.start`` waits until the new thread has run, and on the loaded 2-core machine
that wait alone was 9-70 ms of a cached ``run``'s wall time (0.2 ms when quiet), for a thread
that a program ending within its first slice never needs. It is a daemon thread either way.

Native mode (``native/ticker.c``, its own theory of operation there): where the runtime could
build and load it (:func:`use_native`; ``LIND_ASYNC_PYTHON_TICKER=1`` keeps the Python thread),
the first :meth:`EpochTicker._start_or_wake` turns the ticker into a :class:`NativeTicker`: the
thread is a C thread that never takes the GIL, and every poll goes through
:meth:`EpochTicker.poll`, which the C side counts (atomically, so parking needs no lock and no
Python). The Python thread took the GIL at every tick and every park, so the loop thread had to
hand it over once a slice and wait to get it back (docs/decisions.md, "The HTTP example, round
four": context switches about halved, a server's CPU per request the same or lower). A woken C
thread sleeps a whole slice before it looks again (parking at once, it was woken again by the
next poll: a futex wake and two context switches per poll on a busy machine); and, as the Python
thread, it parks only after a whole slice in which no poll began. A
poll that does not go through :meth:`poll` (a grate hop's inline poll, ``prepared_call.py``)
still counts ``active`` and checks ``_parked``: natively ``_parked`` is true when no counted
poll is in progress, and ``_start_or_wake`` then *kicks* the C thread into one more tick,
which is all an uncounted poll needs (its call yields at that tick and goes on through
``fiber._drive``'s counted polls). ``ticks`` is the C count as of the last counted poll.

Rejected: a per-store timer thread (threads scale with cages); ticking always (burns a CPU
wakeup every slice forever and advances epochs of idle stores for nothing); fuel (costs
~10-30 % and counts instructions, not time).
"""

from __future__ import annotations

import _thread
import ctypes
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import capi

_native: list[Any] = []  # the loaded native/ticker.c library, once :func:`use_native` gave it
_future_poll = capi.call_future_poll


def _address(fn: Any) -> int:
    return int(ctypes.cast(fn, ctypes.c_void_p).value or 0)


def use_native_loaded() -> bool:
    """Whether :func:`use_native` has loaded the library."""
    return bool(_native)


def use_native(path: str) -> bool:
    """Tickers started from now on run as C threads, from the library at ``path`` (built by the
    runtime from ``native/ticker.c``); False (and the Python thread stays) when it cannot be
    loaded or ``LIND_ASYNC_PYTHON_TICKER`` is set."""
    if _native:
        return True
    if os.environ.get("LIND_ASYNC_PYTHON_TICKER"):
        return False
    try:
        lib = ctypes.CDLL(path)
        lib.lind_ticker_new.argtypes = (ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                                        ctypes.c_void_p, ctypes.c_void_p)
        lib.lind_ticker_new.restype = ctypes.c_void_p
        lib.lind_ticker_start.argtypes = (ctypes.c_void_p,)
        lib.lind_ticker_start.restype = ctypes.c_int
        lib.lind_ticker_poll.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
        lib.lind_ticker_poll.restype = ctypes.c_bool
        for name in ("lind_ticker_kick", "lind_ticker_stop"):
            getattr(lib, name).argtypes = (ctypes.c_void_p,)
            getattr(lib, name).restype = None
    except (OSError, AttributeError):
        return False
    _native.append(lib)
    return True


class EpochTicker:
    def __init__(self, engine_ptr: int, time_slice: float) -> None:
        self._engine_ptr = engine_ptr
        self.time_slice = time_slice
        self.active = 0  # number of polls currently in progress (loop threads only)
        self.entered = 0  # polls begun (loop threads only; read by the thread at each tick)
        self.ticks = 0
        self._parked = True
        self._wake = threading.Event()
        self._stopped = False
        self._started = False
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- loop side
    def enter(self) -> None:
        self.active += 1
        self.entered += 1
        if self._parked:
            self._start_or_wake()

    def leave(self) -> None:
        self.active -= 1

    def ticks_made(self) -> int:
        """Ticks made so far (``ticks`` may lag natively: it is read at each counted poll)."""
        return self.ticks

    def poll(self, fut: int) -> bool:
        """``wasmtime_call_future_poll(fut)``, counted (every poll of ``fiber.py``)."""
        self.active += 1
        self.entered += 1
        if self._parked:
            self._start_or_wake()
        try:
            return bool(_future_poll(fut))
        finally:
            self.active -= 1

    @contextmanager
    def running(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def _start_or_wake(self) -> None:
        if not self._started:
            with self._lock:
                if not self._started and not self._stopped:
                    self._started = True
                    if self._go_native():
                        self._start_or_wake()
                        return
                    _thread.start_new_thread(self._run, ())  # (see the module docstring)
        self._wake.set()

    def _go_native(self) -> bool:
        """Become a :class:`NativeTicker` with its C thread started, if the library is here."""
        if not _native:
            return False
        lib = _native[0]
        clone = capi.lib.wasmtime_engine_clone
        clone.argtypes, clone.restype = (ctypes.c_void_p,), ctypes.c_void_p
        engine = clone(self._engine_ptr)  # (the ticker's own handle: see native/ticker.c)
        ptr = lib.lind_ticker_new(engine, int(self.time_slice * 1e9),
                                  _address(capi.lib.wasmtime_engine_increment_epoch),
                                  _address(capi.lib.wasmtime_call_future_poll),
                                  _address(capi.lib.wasm_engine_delete))
        if not ptr or lib.lind_ticker_start(ptr) != 0:  # (never expected)
            if ptr:
                lib.lind_ticker_stop(ptr)  # (gives the handle back)
            elif engine:
                capi.lib.wasm_engine_delete(ctypes.c_void_p(engine))
            return False
        self._c = ptr
        # Stopped when the ticker goes, if nobody stopped it (the handle is given back)
        self._finalizer = weakref.finalize(self, lib.lind_ticker_stop, ptr)
        self._counts = (ctypes.c_int64 * 2).from_address(ptr)  # active, ticks
        self._c_poll = lib.lind_ticker_poll
        self._c_kick = lib.lind_ticker_kick
        self.__class__ = NativeTicker
        return True

    def stop(self) -> None:
        with self._lock:  # (a tick in progress ends first: none follows, see _run)
            self._stopped = True
        self._wake.set()

    # ---------------------------------------------------------------- thread side
    def _run(self) -> None:
        sleep = time.sleep
        tick = capi.engine_increment_epoch
        eng = self._engine_ptr
        self._parked = False
        seen = -1
        while not self._stopped:
            if self.active <= 0 and self.entered == seen:  # a whole slice without a poll
                self._parked = True
                self._wake.clear()
                if self.active <= 0 and not self._stopped:
                    self._wake.wait()
                self._parked = False
                continue
            seen = self.entered
            sleep(self.time_slice)
            with self._lock:  # stop() waits for a tick under way and no tick follows it
                if self.active > 0 and not self._stopped:
                    tick(eng)
                    self.ticks += 1


class NativeTicker(EpochTicker):
    """An :class:`EpochTicker` whose thread is ``native/ticker.c``'s (see the module doc)."""

    _c: int
    _counts: Any
    _c_poll: Any
    _c_kick: Any
    _finalizer: weakref.finalize[Any, Any]

    @property
    def _parked(self) -> bool:
        """An uncounted poll must kick: no counted poll is in progress."""
        return bool(self._counts[0] <= 0)

    @_parked.setter
    def _parked(self, value: bool) -> None:
        pass  # (the C thread's own state)

    def ticks_made(self) -> int:
        return int(self._counts[1])

    def poll(self, fut: int) -> bool:
        self.ticks = self._counts[1]
        return bool(self._c_poll(self._c, fut))

    def _start_or_wake(self) -> None:
        if not self._stopped:
            self._c_kick(self._c)

    def stop(self) -> None:
        self._stopped = True
        self._finalizer()  # (lind_ticker_stop, once)
