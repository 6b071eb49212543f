"""Eager first steps: run a coroutine up to its first real suspension *now*, not a loop turn later.

Theory of operation
-------------------
A RawPOSIX handler that must wait returns a coroutine, and relies on that coroutine's first step
(registering its waiter: a ``WaitQueue`` future, a loop reader…) running in the same turn of the
loop as the synchronous check before it. If a loop turn passed in between, a wake-up sent in that
turn (a child exiting, bytes arriving) would find no waiter and be lost. Awaiting the coroutine
directly keeps the first step in the same turn; *moving it into a task of its own* does not (a new
task first runs on the next turn). :func:`eager_task` is that move made safe: it takes the first
step right away, then lets a task drive the rest (by hand, what Python 3.12's eager task factory
does). :class:`Resume` continues a coroutine that was stepped once, passing every suspension,
value and exception through, so an ``async`` handler that never waits costs no task at all.

A call a cage (or a grate's worker) makes is *parked* the same way: the ``syscall`` or
``threei_call`` import answers ``WOULD_WAIT`` and the guest collects the call with the async
``syscall_wait`` import, which awaits it. Between the two imports the guest runs a few
instructions, and a preemption (an epoch yield) can fall there and hand the loop to other cages:
a loop turn in between after all. :func:`first_step` therefore steps the handler's coroutine when
it is parked, inside the import that made the check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


class Resume:
    """Continue driving ``steps`` (an awaitable's iterator) that already yielded ``first``."""

    __slots__ = ("_first", "_steps")

    def __init__(
        self, steps: Generator[Any, Any, Any] | Coroutine[Any, Any, Any], first: Any
    ) -> None:
        self._steps, self._first = steps, first

    def __await__(self) -> Generator[Any, Any, Any]:
        steps, pending = self._steps, self._first
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as exc:
                try:
                    pending = steps.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    pending = steps.send(sent)
                except StopIteration as done:
                    return done.value


async def _resumed(steps: Coroutine[Any, Any, T], first: Any) -> T:
    result: T = await Resume(steps, first)
    return result


def eager_task(coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Future[T]:
    """Run ``coro`` up to its first suspension now; a task drives the rest (a finished future
    if it never suspended)."""
    loop = asyncio.get_running_loop()
    try:
        first = coro.send(None)
    except StopIteration as done:
        finished: asyncio.Future[T] = loop.create_future()
        finished.set_result(done.value)
        return finished
    except asyncio.CancelledError:
        cancelled: asyncio.Future[T] = loop.create_future()
        cancelled.cancel()
        return cancelled
    except Exception as exc:
        failed: asyncio.Future[T] = loop.create_future()
        failed.set_exception(exc)
        return failed
    return loop.create_task(_resumed(coro, first), name=name)


class _Ready:
    """An awaitable whose outcome is already known (a first step that finished the call)."""

    __slots__ = ("_error", "_value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value, self._error = value, error

    def __await__(self) -> Generator[Any, Any, Any]:
        if self._error is not None:
            raise self._error
        return self._value
        yield  # (a generator: never reached)


def first_step(pending: Any) -> Any:
    """``pending`` (an awaitable a handler returned) with its first step taken now, if it is a
    coroutine: an awaitable that continues it (see the module docstring)."""
    if not isinstance(pending, Coroutine):
        return pending
    try:
        first = pending.send(None)
    except StopIteration as done:
        return _Ready(done.value)
    except BaseException as exc:
        return _Ready(error=exc)
    return Resume(pending, first)
