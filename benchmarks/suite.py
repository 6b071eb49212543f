"""The benchmark suite behind ``python -m lind_async bench``: run, tabulate, save, chart.

Each name in :data:`BENCHMARKS` is a module ``benchmarks/bench_NAME.py`` with
``collect(quick) -> list[Figure]``. The benchmarks run one after another in this process (most
start their own subprocesses); one that fails is reported and the others still run.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from benchmarks.report import (
    Figure,
    draw_charts,
    format_table,
    log,
    machine_info,
    machine_line,
    write_json,
)
from benchmarks.targets import format_verdicts, judge

BENCHMARKS: dict[str, str] = {
    "syscalls": "getpid and write round trips vs native (target getpid <= 3 us)",
    "grates": "grate hops, Python and C, and reads through grates (targets 3 us / 10 us)",
    "files": "file read throughput and open+close vs native (target 64 KiB >= 50% native)",
    "net": "TCP echo round trips and throughput vs native (target >= 20,000 rt/s)",
    "epoll": "epoll_wait with 1000 idle descriptors vs native",
    "fork": "fork+exit+wait and setjmp/longjmp vs native",
    "fiber_raw": "the wasm driver: imports, suspend/resume, instantiation, preemption",
    "cages": "cage start latency, spawn rate, memory per idle cage vs processes and node:wasi",
    "start": "a cold `run` of a cached hello world vs a native process (target <= 0.15 s)",
    "compute": "CPU-bound C in a cage (preempted) vs plain wasmtime vs native gcc -O2",
    "scale": "lind_async.Pool: N workers vs 1, its latency per cage, threads vs processes",
    "http": "examples/http_service.py (a cage per request) vs a process per request (target 3x)",
}


def collector(name: str) -> Callable[[bool], list[Figure]]:
    module = importlib.import_module(f"benchmarks.bench_{name}")
    fn: Callable[[bool], list[Figure]] = module.collect
    return fn


def run(names: list[str], *, quick: bool, json_path: Path | None,
        charts: Path | None) -> int:
    """Runs ``names`` (all when empty); prints the table; 1 if any benchmark failed."""
    selected = names or list(BENCHMARKS)
    info = machine_info()
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    for name in selected:
        log(f"== {name}: {BENCHMARKS[name]}")
        start = time.perf_counter()
        try:
            got = collector(name)(quick)
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            log(traceback.format_exc())
            errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        figures += got
        log(f"   {len(got)} figures in {time.perf_counter() - start:.1f} s")
    print(f"machine: {machine_line(info)}{' (--quick)' if quick else ''}")
    print(format_table(figures))
    verdicts = judge(figures, [n for n in selected if n not in errors])
    if verdicts:
        print()
        print(format_verdicts(verdicts))
    for name, err in errors.items():
        print(f"FAILED {name}: {err}")
    if json_path is not None:
        info["quick"] = quick
        write_json(json_path, figures, info, errors, [v.to_json() for v in verdicts])
    if charts is not None:
        written = draw_charts(charts, figures)
        if written is None:
            log("--charts: matplotlib is not installed (pip install 'lind_async[bench]')")
        else:
            log(f"charts: {', '.join(str(p) for p in written)}")
    return 1 if errors else 0
