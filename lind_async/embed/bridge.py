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
  cancel scope exits. Synchronous calls (``send_signal``, ``write``) are posted to the loop thread
  in order with ``call_soon_threadsafe``.

  All microvisors of the process share one runtime thread, started by the first and stopped when
  the last one closes: the wasm driver (``runtime/fiber.py``) keeps per-process state that assumes
  one thread runs cages at a time. (trio-asyncio was rejected: another dependency, and its loop
  runs inside trio's, so a cage's fiber would run on trio's thread with no benefit.)
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

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Await ``make()`` on the runtime loop."""
        raise NotImplementedError

    def post(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` on the runtime loop, in order with other posts and runs."""
        raise NotImplementedError

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the runtime loop and return its result (waits for the loop thread)."""
        raise NotImplementedError

    async def close(self) -> None:
        """The microvisor using this bridge has closed."""


class DirectBridge(Bridge):
    """The runtime runs on the caller's asyncio loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        return await make()

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

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        import trio

        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        outcome: list[Any] = []  # [value] or [exception, None]
        tasks: list[asyncio.Task[None]] = []

        def wake() -> None:
            with contextlib.suppress(trio.RunFinishedError):  # (the trio run already ended)
                token.run_sync_soon(done.set)

        async def body() -> None:
            try:
                outcome.append(await make())
            except BaseException as exc:  # handed to the trio task
                outcome[:] = [exc, None]
            finally:
                wake()

        def start() -> None:
            tasks.append(self.loop.create_task(body()))

        def cancel() -> None:
            tasks[0].cancel()

        self.loop.call_soon_threadsafe(start)
        try:
            await done.wait()
        except trio.Cancelled:
            # Posted after start (posts run in order): cancel the runtime-side task and wait,
            # shielded, until its cleanup (killing the cage…) has finished.
            self.loop.call_soon_threadsafe(cancel)
            with trio.CancelScope(shield=True):
                await done.wait()
            raise
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

        await trio.to_thread.run_sync(_release)


def new_bridge() -> Bridge:
    """The bridge for the async library running the calling task."""
    return DirectBridge() if current_library() == "asyncio" else ThreadBridge()
