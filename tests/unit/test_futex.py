"""The futex wait-queue state (rawposix/futex.py): FIFO wakes, bitsets, requeue, removal."""

from __future__ import annotations

import asyncio

import pytest

from lind_async.rawposix.futex import FUTEX_BITSET_MATCH_ANY, FutexTable

A = (1000, 64)
B = (1000, 128)
OTHER_MEMORY = (2000, 64)


@pytest.fixture
def loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    yield loop  # type: ignore[misc]
    loop.close()


def _futures(loop: asyncio.AbstractEventLoop, n: int) -> list[asyncio.Future[None]]:
    return [loop.create_future() for _ in range(n)]


def test_wake_is_fifo_and_counts(loop: asyncio.AbstractEventLoop) -> None:
    table = FutexTable()
    futs = _futures(loop, 3)
    for f in futs:
        table.enqueue(A, FUTEX_BITSET_MATCH_ANY, f)
    assert table.waiting(A) == 3
    assert table.wake(A, 2) == 2
    assert [f.done() for f in futs] == [True, True, False]
    assert table.wake(A, 5) == 1
    assert table.waiting(A) == 0 and len(table) == 0
    assert table.wake(A, 1) == 0


def test_keys_are_memory_and_address(loop: asyncio.AbstractEventLoop) -> None:
    table = FutexTable()
    f1, f2 = _futures(loop, 2)
    table.enqueue(A, FUTEX_BITSET_MATCH_ANY, f1)
    table.enqueue(OTHER_MEMORY, FUTEX_BITSET_MATCH_ANY, f2)
    assert table.wake(A, 10) == 1
    assert not f2.done()


def test_bitset_selects_waiters(loop: asyncio.AbstractEventLoop) -> None:
    table = FutexTable()
    f1, f2, f3 = _futures(loop, 3)
    table.enqueue(A, 0b01, f1)
    table.enqueue(A, 0b10, f2)
    table.enqueue(A, 0b11, f3)
    assert table.wake(A, 10, 0b10) == 2
    assert (f1.done(), f2.done(), f3.done()) == (False, True, True)
    assert table.waiting(A) == 1


def test_removed_and_finished_waiters_are_not_counted(loop: asyncio.AbstractEventLoop) -> None:
    table = FutexTable()
    f1, f2, f3 = _futures(loop, 3)
    w1 = table.enqueue(A, FUTEX_BITSET_MATCH_ANY, f1)
    table.enqueue(A, FUTEX_BITSET_MATCH_ANY, f2)
    table.enqueue(A, FUTEX_BITSET_MATCH_ANY, f3)
    table.remove(w1)  # timed out / interrupted: its task took it off
    table.remove(w1)  # twice is harmless
    f2.set_exception(TimeoutError())  # finished, not yet removed by its task
    assert table.wake(A, 1) == 1
    assert f3.done() and not f1.done()
    assert len(table) == 0


def test_requeue_moves_the_rest(loop: asyncio.AbstractEventLoop) -> None:
    table = FutexTable()
    futs = _futures(loop, 4)
    waiters = [table.enqueue(A, FUTEX_BITSET_MATCH_ANY, f) for f in futs]
    assert table.requeue(A, 1, B, 2) == 3
    assert futs[0].done() and not any(f.done() for f in futs[1:])
    assert table.waiting(A) == 1 and table.waiting(B) == 2
    assert waiters[1].key == B
    table.remove(waiters[1])  # removal follows the waiter to its new queue
    assert table.waiting(B) == 1
    assert table.wake(B, 10) == 1 and futs[2].done()
    assert table.wake(A, 10) == 1 and futs[3].done()
    assert len(table) == 0
