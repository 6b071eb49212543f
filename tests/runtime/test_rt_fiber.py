"""Driving wasm calls on fibers: inline/suspending imports, traps, cancellation, preemption."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import wasmtime

from lind_async.wasm import (
    HostImports,
    LindEngine,
    LindInstance,
    StoreBusyError,
    WasmTrap,
    instantiate,
    run_call,
)

from .conftest import Runner


class CustomError(Exception):
    pass


class CageExitLike(BaseException):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _imports(handler: Any) -> HostImports:
    return HostImports.lind(handler)


def test_inline_result_and_signed_args(
    engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    seen: list[tuple[int, ...]] = []

    def handler(inst: LindInstance, args: tuple[int, ...]) -> int:
        seen.append(args)
        return args[1] * 10

    async def main() -> None:
        mod = engine.load_module(guest_wasm)
        inst = await instantiate(engine, mod, _imports(handler))
        assert await run_call(inst, "add", [2, 3]) == [5]
        assert await run_call(inst, "sys", [-3, 7]) == [70]
        assert seen == [(-3, 7, 2, 3, 4, 5, -1)]
        # signedness / wrapping of params and results
        assert await run_call(inst, "id64", [2**64 - 1]) == [-1]
        assert await run_call(inst, "id32", [0xFFFFFFFF]) == [-1]
        assert await run_call(inst, "id32", [2**31]) == [-(2**31)]
        # many inline calls inside one wasm call
        assert await run_call(inst, "sys_loop", [1000]) == [10 * 1000]

    run(main())


def test_suspension_only_suspends_the_calling_cage(
    engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    def handler(inst: LindInstance, args: tuple[int, ...]) -> Any:
        if args[0] == 1:
            return asyncio.sleep(0.2, result=42)
        return 5

    async def main() -> None:
        mod = engine.load_module(guest_wasm)
        imp = _imports(handler)
        a = await instantiate(engine, mod, imp)
        b = await instantiate(engine, mod, imp)
        order: list[str] = []

        async def go(inst: LindInstance, nr: int, tag: str) -> list[int]:
            r = await run_call(inst, "sys", [nr, 0])
            order.append(tag)
            return r

        t0 = time.perf_counter()
        ra, rb = await asyncio.gather(go(a, 1, "sleeper"), go(b, 0, "fast"))
        elapsed = time.perf_counter() - t0
        assert ra == [42] and rb == [5]
        assert order == ["fast", "sleeper"]
        assert 0.19 < elapsed < 1.0

    run(main())


def test_async_def_handler_and_repeated_suspension(
    engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    async def slow(v: int) -> int:
        await asyncio.sleep(0)
        return v + 1

    def handler(inst: LindInstance, args: tuple[int, ...]) -> Any:
        return slow(args[1])

    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports(handler))
        assert await run_call(inst, "sys_loop", [50]) == [50 * 2]
        assert await run_call(inst, "sys", [0, 41]) == [42]

    run(main())


def test_handler_exception_is_reraised(
    engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    async def fail_later() -> int:
        await asyncio.sleep(0.01)
        raise CustomError("later")

    def handler(inst: LindInstance, args: tuple[int, ...]) -> Any:
        if args[0] == 1:
            raise CustomError("now")
        if args[0] == 2:
            return fail_later()
        if args[0] == 3:
            raise CageExitLike(3)
        if args[0] == 4:
            return "not awaitable"
        return 0

    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports(handler))
        with pytest.raises(CustomError, match="now"):
            await run_call(inst, "sys", [1, 0])
        with pytest.raises(CustomError, match="later"):
            await run_call(inst, "sys", [2, 0])
        with pytest.raises(CageExitLike) as ei:
            await run_call(inst, "sys", [3, 0])
        assert ei.value.status == 3
        with pytest.raises(TypeError):
            await run_call(inst, "sys", [4, 0])
        # the store is still usable after each failure
        assert await run_call(inst, "sys", [0, 0]) == [0]

    run(main())


@pytest.mark.parametrize(
    ("func", "args", "code"),
    [
        ("trap_unreachable", [], wasmtime.TrapCode.UNREACHABLE),
        ("trap_oob", [], wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS),
        ("trap_sig", [], wasmtime.TrapCode.BAD_SIGNATURE),
        ("trap_stack", [0], wasmtime.TrapCode.STACK_OVERFLOW),
    ],
)
def test_guest_traps(
    engine: LindEngine,
    guest_wasm: bytes,
    run: Runner[Any],
    func: str,
    args: list[int],
    code: wasmtime.TrapCode,
) -> None:
    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports(lambda i, a: 0))
        with pytest.raises(WasmTrap) as ei:
            await run_call(inst, func, args)
        assert ei.value.code == code
        assert await run_call(inst, "add", [1, 1]) == [2]

    run(main())


def test_cancel_suspended_call_then_reuse_or_close(
    engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    started = []

    def handler(inst: LindInstance, args: tuple[int, ...]) -> Any:
        if args[0] == 1:
            started.append(1)
            return asyncio.sleep(10, result=1)
        return args[1]

    async def main() -> None:
        mod = engine.load_module(guest_wasm)
        imp = _imports(handler)
        for close_after in (False, True):
            inst = await instantiate(engine, mod, imp)
            task = asyncio.ensure_future(run_call(inst, "sys", [1, 0]))
            while not started:
                await asyncio.sleep(0.001)
            started.clear()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            if close_after:
                inst.close()
            else:
                assert await run_call(inst, "sys", [0, 9]) == [9]
                assert await run_call(inst, "sys_loop", [10]) == [10]

    run(main())


def test_cancel_preempted_spin(engine: LindEngine, guest_wasm: bytes, run: Runner[Any]) -> None:
    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports(lambda i, a: 0))
        task = asyncio.ensure_future(run_call(inst, "spin", [10**12]))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await run_call(inst, "spin", [10]) == [3 * 45]

    run(main())


def test_nested_call_into_other_store(
    engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    mod = engine.load_module(guest_wasm)
    other: list[LindInstance] = []

    def grate(inst: LindInstance, args: tuple[int, ...]) -> Any:
        return asyncio.sleep(0.001, result=args[1] + 1000)

    def caller(inst: LindInstance, args: tuple[int, ...]) -> Any:
        async def forward() -> int:
            (r,) = await run_call(other[0], "sys", [0, args[1]])
            return r * 2

        return forward()

    async def main() -> None:
        b = await instantiate(engine, mod, _imports(grate))
        other.append(b)
        a = await instantiate(engine, mod, _imports(caller))
        assert await run_call(a, "sys", [0, 5]) == [2010]
        assert await run_call(a, "sys_loop", [3]) == [3 * 2002]

    run(main())


def test_one_live_call_per_store(engine: LindEngine, guest_wasm: bytes, run: Runner[Any]) -> None:
    def handler(inst: LindInstance, args: tuple[int, ...]) -> Any:
        return asyncio.sleep(0.05, result=1)

    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports(handler))
        t = asyncio.ensure_future(run_call(inst, "sys", [0, 0]))
        await asyncio.sleep(0.01)
        with pytest.raises(StoreBusyError):
            await run_call(inst, "add", [1, 2])
        assert await t == [1]

    run(main())


def test_sync_import(engine: LindEngine, run: Runner[Any]) -> None:
    wat = r"""
    (module
      (import "env" "memory" (memory 1 1 shared))
      (import "lind" "syscall" (func $a (param i32 i64 i64 i64 i64 i64 i64) (result i64)))
      (import "lind" "syscall_sync" (func $s (param i32 i64 i64 i64 i64 i64 i64) (result i64)))
      (func (export "both") (param i32 i64) (result i64)
        (i64.add
          (call $s (local.get 0) (local.get 1) (i64.const -1) (i64.const 0) (i64.const 0)
                   (i64.const 0) (i64.const 0))
          (call $a (local.get 0) (local.get 1) (i64.const 0) (i64.const 0) (i64.const 0)
                   (i64.const 0) (i64.const 0)))))
    """
    seen: list[tuple[int, ...]] = []

    def sync(inst: LindInstance, args: tuple[int, ...]) -> int:
        seen.append(args)
        if args[0] == 9:
            raise CustomError("sync")
        return args[1] + 1

    imp = HostImports.lind(lambda i, a: asyncio.sleep(0, result=100), sync_syscall=sync)

    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(wasmtime.wat2wasm(wat)), imp)
        assert await run_call(inst, "both", [-2, 5]) == [106]
        assert seen == [(-2, 5, -1, 0, 0, 0, 0)]
        with pytest.raises(CustomError):
            await run_call(inst, "both", [9, 0])

    run(main())


def test_preemption_keeps_loop_responsive(
    engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    n = 600_000_000

    async def main() -> tuple[float, int]:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports(lambda i, a: 0))
        gaps: list[float] = []
        done = asyncio.Event()

        async def timer() -> None:
            # The gap is measured in this thread's CPU time (wasm runs on the loop's thread):
            # without preemption the whole spin would fall between two ticks; a wall-clock gap
            # would also count the time a loaded machine leaves the process descheduled.
            while not done.is_set():
                t = time.thread_time()
                await asyncio.sleep(0.01)
                gaps.append(time.thread_time() - t)

        tt = asyncio.ensure_future(timer())
        t0 = time.perf_counter()
        (r,) = await run_call(inst, "spin", [n])
        elapsed = time.perf_counter() - t0
        done.set()
        await tt
        expected = (3 * n * (n - 1) // 2) % 2**64
        assert r % 2**64 == expected
        assert elapsed > 0.1, "the computation should span many slices"
        assert len(gaps) >= 5
        return max(gaps), len(gaps)

    max_gap, count = run(main())
    # A slice is 5 ms; the epoch ticker thread may itself wait for a core on a loaded machine
    # while wasm runs on. Without preemption the gap is the whole spin (0.65 s CPU and more).
    assert max_gap < 0.3, f"largest gap {max_gap * 1000:.1f} ms CPU over {count} timer ticks"


def test_ticker_idles(engine: LindEngine, guest_wasm: bytes, run: Runner[Any]) -> None:
    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imports(lambda i, a: 0))
        await run_call(inst, "add", [1, 2])

    run(main())
    time.sleep(3 * engine.config.time_slice)
    before = engine.ticker.ticks
    time.sleep(10 * engine.config.time_slice)
    assert engine.ticker.ticks == before
    assert engine.ticker.active == 0
