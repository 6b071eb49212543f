"""Micro-benchmark of the raw fiber driver (not a test).

Prints ns per call for:
- an async import (``wasmtime_linker_define_async_func``) whose handler completes inline,
- a sync unchecked import (``wasmtime_linker_define_func_unchecked``),
- a suspend/resume round trip (handler returns an awaitable that is already done),
- an empty ``run_call`` into wasm,
- instantiation of a small module in a new Store (new and shared memory),
- preemption: largest loop gap while a cage spins.

Usage: python benchmarks/bench_fiber_raw.py [--uvloop] [-n 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any

from wasmtime import wat2wasm

from benchmarks.report import Baseline, Figure
from lind_async.wasm import (
    EngineConfig,
    HostImports,
    LindEngine,
    LindInstance,
    instantiate,
    run_call,
)
from lind_async.wasm.prepared_call import PreparedCall

WAT = r"""
(module
  (import "env" "memory" (memory 1 16 shared))
  (import "lind" "syscall" (func $a (param i32 i64 i64 i64 i64 i64 i64) (result i64)))
  (import "lind" "syscall_sync" (func $s (param i32 i64 i64 i64 i64 i64 i64) (result i64)))
  (func (export "nop"))
  (func (export "loop_async") (param $n i32) (result i64) (local $acc i64)
    (block $d (loop $l
      (br_if $d (i32.eqz (local.get $n)))
      (local.set $acc (i64.add (local.get $acc)
        (call $a (i32.const 39) (i64.const 1) (i64.const 2) (i64.const 3)
                 (i64.const 4) (i64.const 5) (i64.const 6))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    local.get $acc)
  (func (export "loop_sync") (param $n i32) (result i64) (local $acc i64)
    (block $d (loop $l
      (br_if $d (i32.eqz (local.get $n)))
      (local.set $acc (i64.add (local.get $acc)
        (call $s (i32.const 39) (i64.const 1) (i64.const 2) (i64.const 3)
                 (i64.const 4) (i64.const 5) (i64.const 6))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    local.get $acc)
  (func (export "spin") (param $n i64) (result i64) (local $i i64) (local $acc i64)
    (block $d (loop $l
      (br_if $d (i64.ge_u (local.get $i) (local.get $n)))
      (local.set $acc (i64.add (local.get $acc) (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l)))
    local.get $acc)
)
"""


class _Done:
    """An awaitable that is already complete (measures pure suspend/resume overhead)."""

    __slots__ = ("v",)

    def __init__(self, v: int) -> None:
        self.v = v

    def __await__(self) -> Any:
        return self.v
        yield  # pragma: no cover


async def bench(n: int) -> dict[str, float]:
    """Runs and prints the measurements; returns them (ns per call, keyed by label)."""
    results: dict[str, float] = {}
    eng = LindEngine(EngineConfig())
    mod = eng.load_module(wat2wasm(WAT))
    mode = {"suspend": False}

    def handler(inst: LindInstance, args: tuple[int, ...]) -> Any:
        if mode["suspend"]:
            return _Done(1)
        return 1

    def sync_handler(inst: LindInstance, args: tuple[int, ...]) -> int:
        return 1

    imp = HostImports.lind(handler, sync_syscall=sync_handler)
    inst = await instantiate(eng, mod, imp)

    def report(name: str, dt: float, count: int) -> None:
        results[name] = dt / count * 1e9
        print(f"{name:44s} {dt / count * 1e9:10.0f} ns/call")

    for _ in range(2):  # warm-up + measured
        t = time.perf_counter()
        assert await run_call(inst, "loop_async", [n]) == [n]
        dt_async = time.perf_counter() - t
        t = time.perf_counter()
        assert await run_call(inst, "loop_sync", [n]) == [n]
        dt_sync = time.perf_counter() - t
        mode["suspend"] = True
        m = n // 4
        t = time.perf_counter()
        assert await run_call(inst, "loop_async", [m]) == [m]
        dt_susp = time.perf_counter() - t
        mode["suspend"] = False
    report("async import, completes inline", dt_async, n)
    report("sync unchecked import", dt_sync, n)
    report("async import, suspend/resume round trip", dt_susp, m)

    k = 20000
    t = time.perf_counter()
    for _ in range(k):
        await run_call(inst, "nop")
    report("run_call of an empty export", time.perf_counter() - t, k)
    nop = PreparedCall(inst, "nop")
    t = time.perf_counter()
    for _ in range(k):
        res = nop(())
        if not isinstance(res, int):  # did not finish inline (e.g. an epoch yield): drive it
            await res
    report("prepared inline call of an empty export", time.perf_counter() - t, k)

    k = 300
    insts = []
    t = time.perf_counter()
    for _ in range(k):
        insts.append(await instantiate(eng, mod, imp))
    report("instantiate (new Store + new shared memory)", time.perf_counter() - t, k)
    t = time.perf_counter()
    for _ in range(k):
        insts.append(await instantiate(eng, mod, imp, memory=inst.memory))
    report("instantiate (new Store, existing memory)", time.perf_counter() - t, k)
    for i in insts:
        i.close()

    gaps: list[float] = []
    done = asyncio.Event()

    async def timer() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            gaps.append(time.perf_counter() - t0 - 0.01)

    tt = asyncio.ensure_future(timer())
    t = time.perf_counter()
    await run_call(inst, "spin", [2_000_000_000])
    spin = time.perf_counter() - t
    done.set()
    await tt
    gaps.sort()
    print(
        f"spin 2e9: {spin:.2f} s, timer ticks {len(gaps)}, gap median "
        f"{gaps[len(gaps) // 2] * 1e3:.2f} ms, max {gaps[-1] * 1e3:.2f} ms, "
        f"epoch ticks {eng.ticker.ticks}"
    )
    eng.ticker.stop()
    results["preemption: largest loop gap (ms)"] = gaps[-1] * 1e3
    return results


def collect(quick: bool) -> list[Figure]:
    """The driver's costs (ns/call); an async import's baselines are the sync import and a
    suspend/resume round trip's the inline completion. Its own output goes to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        r = asyncio.run(bench(20_000 if quick else 100_000))
    inline = "async import, completes inline"
    sync = "sync unchecked import"
    figs = [
        Figure("fiber_raw", inline, "ns/call", r[inline], [Baseline(sync, r[sync])]),
        Figure("fiber_raw", "async import, suspend/resume", "ns/call",
               r["async import, suspend/resume round trip"], [Baseline(inline, r[inline])]),
    ]
    for name, value in r.items():
        if name not in (inline, sync, "async import, suspend/resume round trip"):
            unit = "ms" if "(ms)" in name else "ns/call"
            figs.append(Figure("fiber_raw", name.replace(" (ms)", ""), unit, value))
    return figs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("-n", type=int, default=100_000)
    a = ap.parse_args()
    if a.uvloop:
        import uvloop

        uvloop.run(bench(a.n))
    else:
        asyncio.run(bench(a.n))


if __name__ == "__main__":
    main()
