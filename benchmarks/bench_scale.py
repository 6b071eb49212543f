"""Scaling out: ``Pool`` with N workers vs 1, its overhead per cage, threads vs processes.

    python -m benchmarks.bench_scale [--quick] [--workers N]

All figures have their baselines measured in the same run:

1. CPU-bound cages completed per second: ``programs/compute_loop.c`` (a fixed number of rounds,
   ~0.1 s each) started 4N at a time through a pool of N workers (default: the CPU count) vs a
   pool of 1 worker; both pools are up at once and measured alternately, best batch of each
   (the machine is shared). Target: >= 0.9 N (>= 1.8x on 2 cores).
   The same for ``examples/http_service.py --workers N`` (N server processes sharing the port)
   vs ``--workers 1`` (requests/s), each in processes of its own, driven by ``bench_http``'s C
   client (16 keep-alive connections) from outside them. Target: >= 1.7x with 2 workers.
2. Start-to-exit latency of a cached cage (``programs/exit0.c``), one at a time, through a pool
   of one worker vs directly in one :class:`lind_async.Microvisor` on this loop (batches
   alternately, best of each). Target: <= 1.5x + 1 ms.
3. Threads vs processes for compute: the same loop built for WASI run by plain wasmtime-py in N
   threads of this process (wasm runs with the GIL released) vs 1 thread, to see whether
   several event loops in threads could replace worker processes (``docs/decisions.md``).
4. With Ray installed (``pip install 'lind_async[ray]'``): 1 (N actors vs 1) and 2 again
   through ``Pool(backend="ray")`` on a local Ray instance; otherwise one line says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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


async def _cages_per_s(workers: int, cages: int, rounds: int, root: Path, repeat: int,
                       backend: str = "local") -> tuple[float, float]:
    """Cages/s through a pool of 1 worker and of ``workers``, both alive, measured alternately
    ``repeat`` times each (the best of each: the machine is shared, and a load swing during one
    batch would otherwise decide the ratio)."""
    import lind_async

    options = {"num_cpus": 1} if backend == "ray" else None
    async with lind_async.Pool(workers=1, root=root, backend=backend,
                               ray_options=options) as single, \
            lind_async.Pool(workers=workers, root=root, backend=backend,
                            ray_options=options) as many:
        modules = {id(single): await single.load(COMPUTE), id(many): await many.load(COMPUTE)}

        async def one(pool: lind_async.Pool) -> None:
            proc = await pool.create_cage_exec(modules[id(pool)], str(rounds),
                                               stdout=lind_async.PIPE)
            out, _ = await proc.communicate()
            if proc.returncode != 0 or not out:
                raise RuntimeError(f"compute cage failed: {proc.returncode}")

        async def batch(pool: lind_async.Pool, n: int) -> float:
            start = time.perf_counter()
            await asyncio.gather(*(one(pool) for _ in range(n)))
            return n / (time.perf_counter() - start)

        await batch(many, workers)  # warm every worker
        await batch(single, 1)
        best = [0.0, 0.0]
        for _ in range(repeat):
            best[0] = max(best[0], await batch(single, cages))
            best[1] = max(best[1], await batch(many, cages))
        return best[0], best[1]


def _http_rps(requests: int, workers: int, repeat: int) -> tuple[float, float, str]:
    """Requests/s of ``examples/http_service.py --workers 1`` and ``--workers N`` (N server
    processes on one port), both serving at once, driven alternately by the C client
    (``bench_http``'s, 16 keep-alive connections) from outside both; the best run of each, and
    a note with each one's CPU per request and the client's."""
    from benchmarks import bench_http

    connections = 16
    best: list[bench_http.Load | None] = [None, None]
    with tempfile.TemporaryDirectory(prefix="bench-scale-http-") as tmp:
        client = bench_http.build_client(Path(tmp))
        with bench_http.serving("--workers 1", "--workers", "1") as one, \
                bench_http.serving(f"--workers {workers}", "--workers", str(workers)) as many:
            for server in (one, many):
                bench_http.load(client, server, connections, 8 * connections)  # warm up
            for _ in range(repeat):
                for i, server in enumerate((one, many)):
                    got = bench_http.load(client, server, connections, requests)
                    old = best[i]
                    if old is None or got.rate > old.rate:
                        best[i] = got
    single, multi = best
    assert single is not None and multi is not None
    client_us = max(single.per_request_us(single.client_cpu),
                    multi.per_request_us(multi.client_cpu))
    note = (f"CPU per request: {single.per_request_us(single.server_cpu):.0f} us (1 worker), "
            f"{multi.per_request_us(multi.server_cpu):.0f} us ({workers}); the C client "
            f"{client_us:.0f} us")
    return single.rate, multi.rate, note


async def _latency_ms(n: int, root: Path, repeat: int,
                      backend: str = "local") -> tuple[float, float]:
    """Start-to-exit of a cached ``exit0`` cage, one at a time: through a pool of one worker,
    and directly in one microvisor on this loop; batches of ``n`` alternately, the best batch
    of each (a busy machine delays the worker process's wake-ups by whole time slices)."""
    import lind_async

    async with lind_async.Pool(workers=1, root=root, backend=backend) as pool, \
            lind_async.Microvisor(root=root) as mv:
        pooled, direct = await pool.load(EXIT0), await mv.load(EXIT0)

        async def through_pool() -> None:
            proc = await pool.create_cage_exec(pooled, stdout=lind_async.DEVNULL)
            if await proc.wait() != 0:
                raise RuntimeError("exit0 cage failed")

        async def in_microvisor() -> None:
            proc = await mv.create_cage_exec(direct, stdout=lind_async.DEVNULL)
            if await proc.wait() != 0:
                raise RuntimeError("exit0 cage failed")

        best = [float("inf"), float("inf")]
        for _ in range(repeat + 1):
            for i, one in enumerate((through_pool, in_microvisor)):
                await one()
                start = time.perf_counter()
                for _ in range(n):
                    await one()
                best[i] = min(best[i], (time.perf_counter() - start) / n * 1e3)
        return best[0], best[1]


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
    cages = 4 * n
    repeat = 2 if quick else 4
    latency_n = 50 if quick else 200
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        one, many = asyncio.run(_cages_per_s(n, cages, rounds, root, repeat))
        figures.append(Figure(
            "scale", f"CPU-bound cages/s, Pool of {n} workers ({rounds:,} rounds each)", "1/s",
            many, [Baseline("Pool of 1 worker", one)], better="higher",
            note=target_note(f">= {0.9 * n:.1f}x with {n} workers", many >= 0.9 * n * one)))
        http_one, http_many, http_note = _http_rps(1000 if quick else 4000, n, repeat)
        figures.append(Figure(
            "scale", f"examples/http_service.py --workers {n}, requests/s", "1/s", http_many,
            [Baseline("--workers 1", http_one)], better="higher",
            note=target_note(">= 1.7x with 2 workers", http_many >= 1.7 * http_one)
            + f"; {http_note}"))
        pooled, direct = asyncio.run(_latency_ms(latency_n, root, repeat))
        figures.append(Figure(
            "scale", "start to exit, cached cage, through a Pool", "ms", pooled,
            [Baseline("one Microvisor, this loop", direct)],
            note=target_note("<= 1.5x + 1 ms", pooled <= 1.5 * direct + 1.0)))
        runs = 4 * n if quick else 8 * n
        single = max(_threads_rate(1, runs, rounds, root) for _ in range(repeat // 2))
        threaded = max(_threads_rate(n, runs, rounds, root) for _ in range(repeat // 2))
        figures.append(Figure(
            "scale", f"plain wasmtime compute runs/s in {n} threads of one process", "1/s",
            threaded, [Baseline("1 thread", single)], better="higher",
            note="threads vs processes: docs/decisions.md"))
        if _ray_available():
            figures += _ray_figures(n, cages, rounds, repeat, latency_n, root, direct)
        else:
            log("bench_scale: ray is not installed (pip install 'lind_async[ray]'): "
                "the Ray backend's figures are skipped")
    return figures


def _ray_figures(n: int, cages: int, rounds: int, repeat: int, latency_n: int, root: Path,
                 direct: float) -> list[Figure]:
    """The Ray backend's figures, measured in a process of their own: Ray's driver replaces
    wasmtime's signal handlers, and this process runs microvisors (docs/scaling.md)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", "--ray-json", str(root),
         json.dumps([n, cages, rounds, repeat, max(20, latency_n // 5)])],
        capture_output=True, text=True, check=True, cwd=HERE.parent,
        # Ray starts its workers at nice 15 by default: on a shared machine they would get the
        # leftovers, and the comparison with the local workers (nice 0) would say nothing.
        env={"RAY_worker_niceness": "0", **os.environ},  # (Ray's own spelling of the name)
    )
    one, many, pooled = json.loads(out.stdout.strip().splitlines()[-1])
    return [
        Figure("scale", f"CPU-bound cages/s, Ray backend, {n} actors", "1/s", many,
               [Baseline("Ray backend, 1 actor", one)], better="higher"),
        Figure("scale", "start to exit, cached cage, Ray backend", "ms", pooled,
               [Baseline("one Microvisor, this loop", direct)],
               note=f"Ray's overhead per cage: {pooled - direct:.2f} ms"),
    ]


def _ray_measure(root: Path, n: int, cages: int, rounds: int, repeat: int,
                 latency_n: int) -> list[float]:
    import ray

    ray.init(num_cpus=n + 1, include_dashboard=False, log_to_driver=False)
    try:
        one, many = asyncio.run(_cages_per_s(n, cages, rounds, root, repeat, "ray"))
        pooled, _ = asyncio.run(_latency_ms(latency_n, root, 1, "ray"))
    finally:
        ray.shutdown()
    return [one, many, pooled]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, help="N (default: the CPU count)")
    parser.add_argument("--ray-json", nargs=2, metavar=("ROOT", "PARAMS"),
                        help=argparse.SUPPRESS)  # the Ray figures, in their own process
    opts = parser.parse_args(argv)
    if opts.ray_json:
        print(json.dumps(_ray_measure(Path(opts.ray_json[0]), *json.loads(opts.ray_json[1]))))
        return 0
    print(format_table(collect(opts.quick, opts.workers)))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
