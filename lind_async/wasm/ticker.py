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

Idle costs nothing: ``fiber.py`` wraps every poll in ``enter()``/``leave()`` (a plain
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

Rejected: a per-store timer thread (threads scale with cages); ticking always (burns a CPU
wakeup every slice forever and advances epochs of idle stores for nothing); fuel (costs
~10-30 % and counts instructions, not time).
"""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from . import capi


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
                    _thread.start_new_thread(self._run, ())  # (see the module docstring)
        self._wake.set()

    def stop(self) -> None:
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
            if self.active > 0:
                tick(eng)
                self.ticks += 1
