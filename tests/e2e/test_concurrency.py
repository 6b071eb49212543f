"""Several cages on one event loop: a waiting or spinning cage never stops the others."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from lind_async.runtime.cage import SIGSEGV
from lind_async.runtime.world import World, default_cache_dir
from lind_async.wasm.engine import EngineConfig


def microvisor(root: Path) -> World:
    config = EngineConfig(time_slice=0.005, cache_dir=default_cache_dir() / "modules")
    return World(root=root, engine_config=config)


@pytest.fixture(params=["asyncio", "uvloop"])
def loop_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run_on(kind: str, coro: Any) -> Any:
    if kind == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def test_sleeping_cage_does_not_block_another(
    cage_program: Any, root: Path, loop_kind: str, capfd: pytest.CaptureFixture[str]
) -> None:
    sleeper, hello = cage_program("sleep"), cage_program("hello")
    finished: list[str] = []

    async def main() -> None:
        async with microvisor(root) as mv:
            a = mv.spawn(sleeper, ["sleep", "300"])
            b = mv.spawn(hello, ["hello"])

            async def watch(name: str, cage: Any) -> None:
                await cage.exited.wait()
                finished.append(name)

            await asyncio.gather(watch("A", a), watch("B", b))
            assert a.status == 0 and b.status == 3 << 8

    run_on(loop_kind, main())
    assert finished == ["B", "A"]
    out = capfd.readouterr().out
    assert "hello from a cage" in out and "slept enough: 1" in out


def test_spinning_cage_is_preempted(cage_program: Any, root: Path, loop_kind: str) -> None:
    spin = cage_program("spin")
    gaps: list[float] = []

    async def main() -> None:
        async with microvisor(root) as mv:
            cage = mv.spawn(spin, ["spin", "2"])
            # CPU time of the loop's thread, where the cage's wasm runs: unpreempted, the whole
            # spin would fall between two ticks, while a wall-clock gap would also count the
            # time a loaded machine keeps this process off a core.
            last = time.thread_time()
            while not cage.exited.is_set():
                await asyncio.sleep(0.01)
                now = time.thread_time()
                gaps.append(now - last)
                last = now
            assert cage.status == 0

    run_on(loop_kind, main())
    assert len(gaps) > 50
    assert max(gaps) < 0.3, f"largest timer gap (loop thread CPU) {max(gaps) * 1000:.1f} ms"
    iters, value = map(int, (root / "spin-result.txt").read_text().split())
    assert iters >= 1
    assert value == lcg_power(iters * 10_000_000)


def test_lcg_power_matches_iteration() -> None:
    x = 1
    for _ in range(1000):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    assert lcg_power(1000) == x


def lcg_power(n: int) -> int:
    """x_n of x -> a*x + c (mod 2**64) from x_0 = 1, by squaring the affine map."""
    a, c, mod = 6364136223846793005, 1442695040888963407, 1 << 64
    ra, rc = 1, 0  # accumulated map: x -> ra*x + rc
    while n:
        if n & 1:
            ra, rc = (a * ra) % mod, (a * rc + c) % mod
        a, c = (a * a) % mod, (a * c + c) % mod
        n >>= 1
    return (ra * 1 + rc) % mod


def test_crashing_cage_does_not_disturb_another(
    cage_program: Any, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    crash, sleeper = cage_program("crash"), cage_program("sleep")

    async def main() -> tuple[int | None, int | None]:
        async with microvisor(root) as mv:
            good = mv.spawn(sleeper, ["sleep"])
            bad = mv.spawn(crash, ["crash"])
            await bad.exited.wait()
            await good.exited.wait()
            return bad.status, good.status

    bad_status, good_status = asyncio.run(main())
    assert bad_status == SIGSEGV
    assert good_status == 0
    captured = capfd.readouterr()
    assert "slept enough: 1" in captured.out
    assert "crashed" in captured.err


def test_cages_blocked_in_pipes_and_wait_do_not_stop_another(
    cage_program: Any, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A cage whose processes spend their time blocked in pipe reads and wait4 (10,000
    round trips) runs beside one that sleeps and prints: the sleeper finishes on time."""
    pingpong, sleeper = cage_program("pingpong"), cage_program("sleep")
    finished: list[str] = []

    async def main() -> None:
        async with microvisor(root) as mv:
            busy = mv.spawn(pingpong, ["pingpong"])
            quick = mv.spawn(sleeper, ["sleep", "50"])
            started = time.perf_counter()
            await quick.exited.wait()
            finished.append(f"sleeper after {time.perf_counter() - started:.2f}s")
            assert not busy.exited.is_set(), "the blocking cage should still be working"
            await busy.exited.wait()
            assert busy.status == 0 and quick.status == 0

    asyncio.run(main())
    assert len(finished) == 1
    out = capfd.readouterr().out
    assert "round trips: 10000, child exited 0" in out and "slept enough: 1" in out
