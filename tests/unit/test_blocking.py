"""rawposix/blocking.py's policy without wasm: a fake attempt, a fake readiness source."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lind_async.abi.errno import EAGAIN, EIDRM, EINPROGRESS, EINTR, ETIMEDOUT, GuestError
from lind_async.rawposix.blocking import WaitQueue, block, on_host_fd, on_queue, wait_fd


class Script:
    """An attempt that answers from a list: an exception is raised, anything else returned."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeWait:
    """A readiness source that records each wait's ``left``; it says "look again" at once, or
    (``sleeps``) only when ``left`` has passed."""

    def __init__(self, fail: BaseException | None = None, *, sleeps: bool = False) -> None:
        self.lefts: list[float | None] = []
        self.fail = fail
        self.sleeps = sleeps

    async def __call__(self, left: float | None) -> None:
        self.lefts.append(left)
        if self.fail is not None:
            raise self.fail
        await asyncio.sleep(left if self.sleeps and left is not None else 0)


class FakeCage:
    """What a Wait asks of a cage: ``block_on`` (a signal would end it with EINTR)."""

    async def block_on(self, ready: Awaitable[None]) -> None:
        await ready


def run(make: Callable[[], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        return await make()

    return asyncio.run(main())


def test_nonblocking_fails_now_without_trying() -> None:
    attempt, wait = Script(), FakeWait()
    with pytest.raises(GuestError) as exc:
        block(attempt, wait, nonblocking=True)
    assert exc.value.errno == EAGAIN and attempt.calls == 0 and wait.lefts == []


def test_waits_then_retries_until_a_result() -> None:
    attempt, wait = Script(None, BlockingIOError(), 0), FakeWait()
    assert run(lambda: block(attempt, wait)) == 0  # 0 is a result, not "would block"
    assert attempt.calls == 3 and wait.lefts == [None, None, None]  # a wait before each try


def test_look_first_tries_before_the_first_wait() -> None:
    attempt, wait = Script(7), FakeWait()
    assert run(lambda: block(attempt, wait, look_first=True)) == 7
    assert wait.lefts == []
    attempt, wait = Script(None, 8), FakeWait()
    assert run(lambda: block(attempt, wait, look_first=True)) == 8
    assert attempt.calls == 2 and wait.lefts == [None]


def test_a_deadline_gives_the_time_left_then_expires() -> None:
    attempt, wait = Script(*[None] * 100), FakeWait(sleeps=True)
    with pytest.raises(GuestError) as exc:
        run(lambda: block(attempt, wait, timeout=0.05))
    assert exc.value.errno == EAGAIN
    lefts = [left for left in wait.lefts if left is not None]
    assert len(lefts) == len(wait.lefts) >= 1
    assert all(0 < left <= 0.05 for left in lefts)
    assert lefts == sorted(lefts, reverse=True)
    assert attempt.calls == len(wait.lefts)  # every wait is followed by a retry


@pytest.mark.parametrize("expired", [EINPROGRESS, ETIMEDOUT])
def test_the_expired_errno_is_the_callers(expired: int) -> None:
    with pytest.raises(GuestError) as exc:
        run(lambda: block(Script(*[None] * 9), FakeWait(sleeps=True), timeout=0.01,
                          expired=expired))
    assert exc.value.errno == expired


def test_a_result_before_the_deadline_wins() -> None:
    assert run(lambda: block(Script(None, 5), FakeWait(), timeout=10.0)) == 5


def test_eintr_from_the_wait_propagates_and_stops_retrying() -> None:
    attempt, wait = Script(), FakeWait(fail=GuestError(EINTR))
    with pytest.raises(GuestError) as exc:
        run(lambda: block(attempt, wait, timeout=1.0))
    assert exc.value.errno == EINTR and attempt.calls == 0


def test_an_attempts_error_propagates() -> None:
    with pytest.raises(GuestError) as exc:
        run(lambda: block(Script(None, GuestError(EIDRM)), FakeWait()))
    assert exc.value.errno == EIDRM


def test_on_queue_waits_for_wake_all() -> None:
    cage: Any = FakeCage()
    queue, items = WaitQueue(), list[int]()

    def take() -> int | None:
        return items.pop() if items else None

    async def main() -> int:
        pending = asyncio.ensure_future(block(take, on_queue(cage, queue)))
        await asyncio.sleep(0)
        queue.wake_all()  # spurious: nothing there yet, it waits again
        await asyncio.sleep(0)
        assert not pending.done()
        items.append(42)
        queue.wake_all()
        return await pending

    assert asyncio.run(main()) == 42


def test_on_host_fd_waits_for_readiness_and_honours_left() -> None:
    cage: Any = FakeCage()
    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        async def main() -> bytes:
            loop = asyncio.get_running_loop()
            start = loop.time()
            await wait_fd(r, writable=False, cage=cage, timeout=0.02)  # nothing: times out
            assert loop.time() - start >= 0.015
            loop.call_later(0.01, os.write, w, b"x")
            got: bytes = await block(lambda: os.read(r, 1), on_host_fd(cage, r, writable=False))
            return got

        assert asyncio.run(main()) == b"x"
    finally:
        os.close(r)
        os.close(w)
