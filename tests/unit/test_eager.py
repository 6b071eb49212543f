"""``first_step``: a parked call's handler registers its waiter in the import that checked the
condition, so a wake-up sent before the guest collects the call is not lost."""

from __future__ import annotations

import asyncio

import pytest

from lind_async.wasm.eager import first_step


class Queue:
    """A wait queue as RawPOSIX's: a wake-up reaches only the waiters registered when it comes."""

    def __init__(self) -> None:
        self.waiters: list[asyncio.Future[None]] = []
        self.items: list[int] = []

    async def wait(self) -> None:
        ready = asyncio.get_running_loop().create_future()
        self.waiters.append(ready)
        await ready

    def put(self, item: int) -> None:
        self.items.append(item)
        waiters, self.waiters = self.waiters, []
        for ready in waiters:
            ready.set_result(None)


async def read_later(queue: Queue) -> int:
    """A handler's slow path written the way that needs the eager first step: wait, then look."""
    await queue.wait()
    return queue.items.pop(0)


async def test_a_wake_up_before_collection_is_kept() -> None:
    queue = Queue()
    parked = first_step(read_later(queue))  # what the syscall import does when it parks
    queue.put(7)  # another cage runs before the guest calls syscall_wait (a preemption)
    assert await asyncio.wait_for(_collect(parked), 5) == 7


async def test_without_the_first_step_it_would_be_lost() -> None:
    queue = Queue()
    parked = read_later(queue)
    queue.put(7)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_collect(parked), 0.05)


async def test_outcomes_pass_through() -> None:
    async def done() -> int:
        return 3

    async def fails() -> int:
        raise ValueError("no")

    assert await _collect(first_step(done())) == 3
    with pytest.raises(ValueError, match="no"):
        await _collect(first_step(fails()))
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    assert first_step(ready) is ready  # not a coroutine: left alone
    ready.set_result(4)
    assert await _collect(first_step(ready)) == 4


async def _collect(parked: object) -> int:
    result: int = await parked  # type: ignore[misc]  # syscall_wait awaits whatever was parked
    return result
