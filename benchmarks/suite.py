"""The benchmark suite behind ``python -m lind_async bench``: run, tabulate, save, chart.

Each name in :data:`BENCHMARKS` is a module ``benchmarks/bench_NAME.py`` with
``collect(quick) -> list[Figure]``. The benchmarks run one after another in this process (most
start their own subprocesses); one that fails is reported and the others still run. ``http`` is
a hook for ``examples/http_service.py``: when that file exists and defines
``async def bench_requests(n) -> dict``, its numeric items become figures (``requests_per_s``
is the cage's figure; items named ``baseline_<name>`` are its baselines).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report import (
    Baseline,
    Figure,
    draw_charts,
    format_table,
    log,
    machine_info,
    machine_line,
    write_json,
)
from benchmarks.targets import format_verdicts, judge

REPO = Path(__file__).resolve().parent.parent
HTTP_SERVICE = REPO / "examples" / "http_service.py"

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
    "http": "requests/s of examples/http_service.py (when it provides bench_requests)",
}


def _http(quick: bool) -> list[Figure]:
    if not HTTP_SERVICE.is_file():
        raise LookupError(f"{HTTP_SERVICE} does not exist yet")
    spec = importlib.util.spec_from_file_location("_lind_http_service", HTTP_SERVICE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look their module up
    spec.loader.exec_module(module)
    bench = getattr(module, "bench_requests", None)
    if bench is None:
        raise LookupError(f"{HTTP_SERVICE} has no bench_requests(n)")
    n = 200 if quick else 5000
    result = asyncio.run(bench(n))
    return http_figures(result, n)


def http_figures(result: dict[str, Any], n: int) -> list[Figure]:
    """``service_rps`` (the cage-backed service) vs ``native_http_rps`` (the same HTTP server
    and client, a gcc-built process per request) and ``native_rps`` (that process per request,
    no HTTP); otherwise every ``*_rps``/``*per_s`` item, with ``baseline_*`` items as baselines."""
    nums = {k: float(v) for k, v in result.items() if isinstance(v, int | float)}
    what = f"POST, {int(nums.get('concurrency', 0)) or '?'} in flight, {n:,} requests"
    if "service_rps" in nums and "native_rps" in nums:
        baselines = [Baseline("process per request (gcc), no HTTP", nums["native_rps"])]
        if "native_http_rps" in nums:
            baselines.insert(0, Baseline("HTTP + process per request (gcc)",
                                         nums["native_http_rps"]))
        return [Figure("http", what, "requests/s", nums["service_rps"], baselines,
                       better="higher")]
    baselines = [Baseline(k.removeprefix("baseline_"), v) for k, v in nums.items()
                 if k.startswith("baseline_")]
    return [Figure("http", k, "1/s", v, baselines, better="higher") for k, v in nums.items()
            if not k.startswith("baseline_") and (k.endswith("rps") or k.endswith("per_s"))]


def collector(name: str) -> Callable[[bool], list[Figure]]:
    if name == "http":
        return _http
    module = importlib.import_module(f"benchmarks.bench_{name}")
    fn: Callable[[bool], list[Figure]] = module.collect
    return fn


def run(names: list[str], *, quick: bool, json_path: Path | None,
        charts: Path | None) -> int:
    """Runs ``names`` (all when empty); prints the table; 1 if any benchmark failed."""
    selected = names or [n for n in BENCHMARKS if n != "http" or HTTP_SERVICE.is_file()]
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
