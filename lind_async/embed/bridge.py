"""How the embedder's async library reaches the runtime's asyncio loop.

Theory of operation
-------------------
The runtime (cages, RawPOSIX, pipes) is asyncio code and runs on one asyncio event loop. The
embedding API is called from whatever async library the host server uses:

- **asyncio or uvloop** (also anyio on asyncio): :class:`DirectBridge`. The runtime runs on the
  caller's own loop; every call is a plain ``await``.
- **trio** (also anyio on trio): :class:`ThreadBridge`. The runtime runs on an asyncio loop (uvloop
  when available) in a worker thread; an API coroutine is submitted there with
  ``call_soon_threadsafe`` and the trio task sleeps on a ``trio.Event`` that the loop thread
  sets through the trio token (``run_sync_soon``, thread-safe, never blocks either side).
  Cancelling the trio task cancels the asyncio task and waits (shielded) until it has finished
  its cleanup, so a cancelled ``wait()`` has really killed and reaped the cage when the trio
  cancel scope exits. A task cancelled before its first step never runs its coroutine at all (no
  ``except``/``finally`` of it runs), so the cancellation is scheduled with ``call_soon`` behind
  that first step, and the trio task is woken by the task's *done callback* rather than by code in
  the coroutine. (Both were missing: a call made in an already-cancelled trio scope had its task
  started and cancelled in the same loop iteration, the wake-up in the coroutine's ``finally``
  never ran, and the trio task slept forever. That is what hung ``trio.run`` at exit: trio
  finalizes async generators — the default microvisor's holder — inside a cancelled scope.)
  Synchronous calls (``send_signal``, ``write``) are posted to the loop thread in order with
  ``call_soon_threadsafe``.

  All microvisors of the process share one runtime thread, started by the first and stopped when
  the last one closes: the wasm driver (``wasm/fiber.py``) keeps per-process state that assumes
  one thread runs cages at a time. (trio-asyncio was rejected: another dependency, and its loop
  runs inside trio's, so a cage's fiber would run on trio's thread with no benefit.)

Closing a microvisor is shielded on both bridges (``run(..., shield=True)``, and ``close``):
cleanup called from a cancelled scope — leaving ``async with`` on a timeout, or trio's
finalization — still kills every cage and stops the runtime thread instead of being cut short.
On asyncio the close runs as a task the caller waits out, re-raising the cancellation after:
anyio's cancel scopes cancel every await made inside them, not just one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


def current_library() -> str:
    """``"asyncio"`` or ``"trio"``: the async library running the calling task."""
    import sniffio

    try:
        name = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        raise RuntimeError(
            "lind_async's embedding API must be called from a running event loop"
        ) from None
    if name not in ("asyncio", "trio"):
        raise RuntimeError(f"lind_async cannot run under {name!r} (asyncio, uvloop or trio)")
    return name


class Bridge:
    """The runtime's loop, seen from the embedder's tasks."""

    loop: asyncio.AbstractEventLoop

    async def run(self, make: Callable[[], Awaitable[T]], *, shield: bool = False) -> T:
        """Await ``make()`` on the runtime loop. ``shield``: a cancellation of the caller does
        not cut it short (cleanup that must finish); it is raised once ``make()`` is done."""
        raise NotImplementedError

    def post(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` on the runtime loop, in order with other posts and runs."""
        raise NotImplementedError

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the runtime loop and return its result (waits for the loop thread)."""
        raise NotImplementedError

    async def close(self) -> None:
        """The microvisor using this bridge has closed (never cancelled part-way)."""


class DirectBridge(Bridge):
    """The runtime runs on the caller's asyncio loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()

    async def run(self, make: Callable[[], Awaitable[T]], *, shield: bool = False) -> T:
        if not shield:
            return await make()
        # Run it as a task and wait it out: a cancellation (anyio's cancel scopes deliver one
        # at every await while cancelled) is held back until it is done, then raised.
        task = asyncio.ensure_future(make())
        cancelled = False
        while not task.done():
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError
        return task.result()

    def post(self, fn: Callable[[], object]) -> None:
        fn()

    def call(self, fn: Callable[[], T]) -> T:
        return fn()


class _RuntimeThread:
    """An asyncio loop running forever in a daemon thread."""

    def __init__(self) -> None:
        try:
            import uvloop

            self.loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        except ImportError:  # pragma: no cover - uvloop is a dependency
            self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="lind-runtime-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


_lock = threading.Lock()
_shared: _RuntimeThread | None = None
_users = 0


def _acquire() -> _RuntimeThread:
    global _shared, _users
    with _lock:
        if _shared is None:
            _shared = _RuntimeThread()
        _users += 1
        return _shared


def _release() -> None:
    global _shared, _users
    with _lock:
        _users -= 1
        if _users or _shared is None:
            return
        runtime, _shared = _shared, None
    runtime.stop()


class ThreadBridge(Bridge):
    """The runtime runs on the shared runtime thread; the caller is a trio task."""

    def __init__(self) -> None:
        self._runtime = _acquire()
        self.loop = self._runtime.loop
        self._closed = False

    async def run(self, make: Callable[[], Awaitable[T]], *, shield: bool = False) -> T:
        import trio

        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        outcome: list[Any] = []  # [value] or [exception, None]; empty: the task never ran
        tasks: list[asyncio.Task[None]] = []

        def wake(_: object) -> None:
            with contextlib.suppress(trio.RunFinishedError):  # (the trio run already ended)
                token.run_sync_soon(done.set)

        async def body() -> None:
            try:
                outcome.append(await make())
            except BaseException as exc:  # handed to the trio task
                outcome[:] = [exc, None]

        def start() -> None:
            task = self.loop.create_task(body())
            # A done callback, not a ``finally`` in body: a task cancelled before its first step
            # never runs its coroutine at all, and the trio task must still wake.
            task.add_done_callback(wake)
            tasks.append(task)

        def cancel() -> None:
            # Not at once: the task may not have taken its first step yet, and a task cancelled
            # then never runs its coroutine, so its own cancellation handling (killing the cage)
            # would not run either. call_soon callbacks run in order, after that first step.
            self.loop.call_soon(tasks[0].cancel)

        self.loop.call_soon_threadsafe(start)
        try:
            with trio.CancelScope(shield=shield):
                await done.wait()
        except trio.Cancelled:
            # Posted after start (posts run in order): cancel the runtime-side task and wait,
            # shielded, until its cleanup (killing the cage…) has finished.
            self.loop.call_soon_threadsafe(cancel)
            with trio.CancelScope(shield=True):
                await done.wait()
            raise
        if not outcome:
            raise RuntimeError("the runtime loop cancelled this call")
        if len(outcome) == 2:
            raise outcome[0]
        return cast(T, outcome[0])

    def post(self, fn: Callable[[], object]) -> None:
        self.loop.call_soon_threadsafe(fn)

    def call(self, fn: Callable[[], T]) -> T:
        async def task() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(task(), self.loop).result()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        import trio

        with trio.CancelScope(shield=True):  # the last user stops the thread, even when cancelled
            await trio.to_thread.run_sync(_release)


def new_bridge() -> Bridge:
    """The bridge for the async library running the calling task."""
    return DirectBridge() if current_library() == "asyncio" else ThreadBridge()
