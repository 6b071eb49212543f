"""The epoch ticker in both its modes: the C thread (``native/ticker.c``) and the Python one.

Each mode must preempt a spinning call (the loop keeps running meanwhile), tick only while a
poll is in progress (idle costs nothing), stop for good, and preempt a poll that does not go
through ``EpochTicker.poll`` (a grate hop's inline poll: ``active`` and ``_parked`` by hand).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lind_async.runtime.world import _native_ticker, default_cache_dir
from lind_async.wasm import EngineConfig, HostImports, LindEngine, capi, instantiate, run_call
from lind_async.wasm import ticker as ticker_mod
from lind_async.wasm.ticker import NativeTicker

SPIN = 400_000_000  # iterations: well over 0.1 s of CPU, many 5 ms slices


@pytest.fixture(params=["native", "python"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _native_ticker(default_cache_dir())
    if request.param == "native":
        if not ticker_mod.use_native_loaded():
            pytest.skip("the native ticker cannot be built here")
    else:
        monkeypatch.setattr(ticker_mod, "_native", [])
    yield request.param


@pytest.fixture
def engine(mode: str) -> Iterator[LindEngine]:
    eng = LindEngine(EngineConfig(time_slice=0.005))
    yield eng
    eng.ticker.stop()


def _imports() -> HostImports:
    return HostImports.lind(lambda i, a: 0)


def _kind(engine: LindEngine) -> str:
    return "native" if isinstance(engine.ticker, NativeTicker) else "python"


def test_preempts_a_spinning_call(engine: LindEngine, guest_wasm: bytes, mode: str) -> None:
    async def main() -> int:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports())
        turns = 0
        done = False

        async def other() -> None:
            nonlocal turns
            while not done:
                turns += 1
                await asyncio.sleep(0)

        task = asyncio.ensure_future(other())
        try:
            (r,) = await run_call(inst, "spin", [SPIN])
        finally:
            done = True
            await task
        assert r % 2**64 == (3 * SPIN * (SPIN - 1) // 2) % 2**64
        return turns

    turns = asyncio.run(main())
    assert _kind(engine) == mode
    assert turns >= 5, "the loop ran between slices"
    assert engine.ticker.ticks_made() >= 5


def test_idle_costs_no_ticks(engine: LindEngine, guest_wasm: bytes, mode: str) -> None:
    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports())
        await run_call(inst, "add", [1, 2])

    asyncio.run(main())
    assert _kind(engine) == mode
    time.sleep(3 * engine.config.time_slice)
    before = engine.ticker.ticks_made()
    time.sleep(10 * engine.config.time_slice)
    assert engine.ticker.ticks_made() == before
    assert engine.ticker.active == 0


def test_stopped_ticks_no_more(engine: LindEngine, guest_wasm: bytes, mode: str) -> None:
    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports())
        await run_call(inst, "add", [1, 2])

    asyncio.run(main())
    engine.ticker.stop()
    made = engine.ticker.ticks_made()
    engine.ticker.enter()  # (a poll after the stop: nothing starts again)
    time.sleep(4 * engine.config.time_slice)
    engine.ticker.leave()
    assert engine.ticker.ticks_made() == made


def test_an_uncounted_poll_is_preempted(
    engine: LindEngine, guest_wasm: bytes, mode: str
) -> None:
    """Polls made as ``prepared_call.py`` makes its inline one (``active`` and ``_parked`` by
    hand, then wasmtime's poll directly) still get ticks: a spin of them yields slice by slice."""
    ticker: Any = engine.ticker

    def uncounted(fut: int) -> bool:
        ticker.active += 1
        if ticker._parked:
            ticker._start_or_wake()
        try:
            return bool(capi.call_future_poll(fut))
        finally:
            ticker.active -= 1

    ticker.poll = uncounted  # (this instance's polls, fiber.py's included)
    test_preempts_a_spinning_call(engine, guest_wasm, mode)


def test_an_engine_dropped_unstopped(guest_wasm: bytes, mode: str) -> None:
    """An engine nobody stopped, dropped right after a kick (a tick may still be due): the
    ticker holds its own handle to the engine and is stopped when it goes; nothing crashes."""
    eng = LindEngine(EngineConfig(time_slice=0.005))

    async def main(engine: LindEngine) -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports())
        await run_call(inst, "add", [1, 2])
        inst.close()

    asyncio.run(main(eng))
    assert _kind(eng) == mode
    eng.ticker._start_or_wake()  # (natively a kick: one more tick is due)
    del eng
    gc.collect()
    time.sleep(4 * 0.005)  # (the thread's due tick, if any, finds the ticker stopped)
