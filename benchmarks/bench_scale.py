"""Scaling out: ``lind_async.Pool`` with N workers vs 1, its per-cage overhead, threads vs processes.

    python -m benchmarks.bench_scale [--quick] [--workers N]

All figures have their baselines measured in the same run:

1. CPU-bound cages completed per second: ``programs/compute_loop.c`` (a fixed number of rounds,
   ~0.1 s each) started M at a time through a pool of N workers (default: the CPU count) vs a
   pool of 1 worker. Target: >= 0.9 N (>= 1.8x on 2 cores).
2. Start-to-exit latency of a cached cage (``programs/exit0.c``), one at a time, through a pool
   of one worker vs directly in one :class:`lind_async.Microvisor` on this loop. Target:
   <= 1.5x + 1 ms.
3. Threads vs processes for compute: the same loop built for WASI run by plain wasmtime-py in N
   threads of this process (wasm runs with the GIL released) vs 1 thread, to see whether
   several event loops in threads could replace worker processes (``docs/decisions.md``).
4. With Ray installed (``pip install 'lind_async[ray]'``): 1 and 2 again through
   ``Pool(backend="ray")`` on a local Ray instance; otherwise one line says they were skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.report import Baseline, Figure, format_table, log, target_note

HERE = Path(__file__).parent
COMPUTE = HERE / "programs" / "compute_loop.c"
EXIT0 = HERE / "programs" / "exit0.c"


async def _cages_per_s(workers: int, cages: int, rounds: int, root: Path,
                       backend: str = "local") -> float:
    import lind_async

    async with lind_async.Pool(workers=workers, root=root, backend=backend,
                               ray_options={"num_cpus": 1} if backend == "ray" else None) as pool:
        module = await pool.load(COMPUTE)

        async def one() -> None:
            proc = await pool.create_cage_exec(module, str(rounds), stdout=lind_async.PIPE)
            out, _ = await proc.communicate()
            if proc.returncode != 0 or not out:
                raise RuntimeError(f"compute cage failed: {proc.returncode}")

        await asyncio.gather(*(one() for _ in range(workers)))  # warm every worker
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(cages)))
        return cages / (time.perf_counter() - start)


async def _pool_latency_ms(n: int, root: Path, backend: str = "local") -> float:
    import lind_async

    async with lind_async.Pool(workers=1, root=root, backend=backend) as pool:
        module = await pool.load(EXIT0)

        async def one() -> None:
            proc = await pool.create_cage_exec(module, stdout=lind_async.DEVNULL)
            if await proc.wait() != 0:
                raise RuntimeError("exit0 cage failed")

        for _ in range(3):
            await one()
        start = time.perf_counter()
        for _ in range(n):
            await one()
        return (time.perf_counter() - start) / n * 1e3


async def _direct_latency_ms(n: int, root: Path) -> float:
    import lind_async

    async with lind_async.Microvisor(root=root) as mv:
        module = await mv.load(EXIT0)

        async def one() -> None:
            proc = await mv.create_cage_exec(module, stdout=lind_async.DEVNULL)
            if await proc.wait() != 0:
                raise RuntimeError("exit0 cage failed")

        for _ in range(3):
            await one()
        start = time.perf_counter()
        for _ in range(n):
            await one()
        return (time.perf_counter() - start) / n * 1e3


def _threads_rate(threads: int, runs: int, rounds: int, work: Path) -> float:
    """Runs/s of the WASI build of the compute loop on plain wasmtime in ``threads`` threads
    (each its own engine and store; wasm runs with the GIL released)."""
    import wasmtime

    from lind_async.toolchain.zig import zig

    wasm = work / "compute_wasi.wasm"
    if not wasm.exists():
        subprocess.run(zig("cc", "-target", "wasm32-wasi", "-O2", "-o", str(wasm),
                           str(COMPUTE)), check=True)
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(wasm))
    counter = iter(range(runs))
    lock = threading.Lock()

    def worker(i: int) -> None:
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            store = wasmtime.Store(engine)
            wasi = wasmtime.WasiConfig()
            wasi.argv = ["compute_loop", str(rounds)]
            wasi.stdout_file = str(work / f"out{i}")
            store.set_wasi(wasi)
            linker = wasmtime.Linker(engine)
            linker.define_wasi()
            start = linker.instantiate(store, module).exports(store)["_start"]
            assert isinstance(start, wasmtime.Func)
            with contextlib.suppress(wasmtime.ExitTrap):
                start(store)

    begin = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return runs / (time.perf_counter() - begin)


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def collect(quick: bool, workers: int | None = None) -> list[Figure]:
    n = workers or os.cpu_count() or 2
    rounds = 20_000_000  # ~0.1 s in a cage
    cages = (4 if quick else 12) * n
    latency_n = 100 if quick else 500
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        one = asyncio.run(_cages_per_s(1, cages, rounds, root))
        many = asyncio.run(_cages_per_s(n, cages, rounds, root))
        ratio = many / one
        figures.append(Figure(
            "scale", f"CPU-bound cages/s, Pool of {n} workers ({rounds:,} rounds each)", "1/s",
            many, [Baseline("Pool of 1 worker", one)], better="higher",
            note=target_note(f">= {0.9 * n:.1f}x with {n} workers", ratio >= 0.9 * n)))
        pooled = asyncio.run(_pool_latency_ms(latency_n, root))
        direct = asyncio.run(_direct_latency_ms(latency_n, root))
        figures.append(Figure(
            "scale", "start to exit, cached cage, through a Pool", "ms", pooled,
            [Baseline("one Microvisor, this loop", direct)],
            note=target_note("<= 1.5x + 1 ms", pooled <= 1.5 * direct + 1.0)))
        runs = 4 * n if quick else 8 * n
        single = _threads_rate(1, runs, rounds, root)
        threaded = _threads_rate(n, runs, rounds, root)
        figures.append(Figure(
            "scale", f"plain wasmtime compute runs/s in {n} threads of one process", "1/s",
            threaded, [Baseline("1 thread", single)], better="higher",
            note="threads vs processes: docs/decisions.md"))
        if _ray_available():
            figures += _ray_figures(n, cages, rounds, latency_n, root, one, direct)
        else:
            log("bench_scale: ray is not installed (pip install 'lind_async[ray]'): "
                "the Ray backend's figures are skipped")
    return figures


def _ray_figures(n: int, cages: int, rounds: int, latency_n: int, root: Path, one: float,
                 direct: float) -> list[Figure]:
    import ray

    ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False)
    try:
        many = asyncio.run(_cages_per_s(n, cages, rounds, root, "ray"))
        pooled = asyncio.run(_pool_latency_ms(max(20, latency_n // 5), root, "ray"))
    finally:
        ray.shutdown()
    return [
        Figure("scale", f"CPU-bound cages/s, Ray backend, {n} actors", "1/s", many,
               [Baseline("local Pool of 1 worker", one)], better="higher"),
        Figure("scale", "start to exit, cached cage, Ray backend", "ms", pooled,
               [Baseline("one Microvisor, this loop", direct)],
               note=f"Ray's overhead per cage: {pooled - direct:.2f} ms"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, help="N (default: the CPU count)")
    opts = parser.parse_args(argv)
    print(format_table(collect(opts.quick, opts.workers)))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
