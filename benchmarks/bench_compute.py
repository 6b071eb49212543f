"""Compute throughput: a CPU-bound C program in a cage, in plain wasmtime, and native.

    python -m benchmarks.bench_compute [--rounds N] [--quick]

``programs/compute_loop.c`` mixes integer and floating-point work and prints a checksum and the
ns its loop took (timed by the program itself, so start-up is not counted). The same source runs
three ways, in one go:

- in a cage (``lind_async run``: our runtime, epoch preemption on, default 5 ms slice);
- in plain wasmtime-py with its built-in WASI, no lind runtime: built by ``zig cc -target
  wasm32-wasi -O2`` against zig's wasi-libc (the cage build imports ``lind`` functions and cannot
  run standalone);
- natively, ``gcc -O2``.

Figures are million rounds per second; all three must print the same checksum.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import wasmtime

from benchmarks.report import Baseline, Figure, format_table

HERE = Path(__file__).parent
PROGRAM = HERE / "programs" / "compute_loop.c"


def _parse(out: str) -> tuple[str, float]:
    checksum, ns = out.split()
    return checksum, float(ns)


def native(rounds: int, work: Path) -> tuple[str, float]:
    exe = work / "compute_loop"
    subprocess.run([shutil.which("gcc") or "cc", "-O2", "-o", str(exe), str(PROGRAM)], check=True)
    out = subprocess.run([str(exe), str(rounds)], capture_output=True, text=True, check=True)
    return _parse(out.stdout)


def cage(rounds: int, work: Path) -> tuple[str, float]:
    from lind_async.toolchain.cc import compile_cached

    wasm = compile_cached(PROGRAM)
    out = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(work), str(wasm), str(rounds)],
        capture_output=True, text=True, check=True,
    )
    return _parse(out.stdout)


def plain_wasmtime(rounds: int, work: Path) -> tuple[str, float]:
    """The same source for wasm32-wasi (zig's wasi-libc), run by wasmtime-py's WASI."""
    from lind_async.toolchain.zig import zig

    wasm = work / "compute_wasi.wasm"
    subprocess.run(zig("cc", "-target", "wasm32-wasi", "-O2", "-o", str(wasm), str(PROGRAM)),
                   check=True)
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(wasm))
    store = wasmtime.Store(engine)
    out_file = work / "wasi.out"
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["compute_loop", str(rounds)]
    wasi.stdout_file = str(out_file)
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    try:
        start(store)
    except wasmtime.ExitTrap as exit_trap:
        if exit_trap.code != 0:
            raise
    return _parse(out_file.read_text())


def collect(quick: bool, rounds: int | None = None) -> list[Figure]:
    """Million rounds/s: cage vs plain wasmtime vs native gcc -O2 (checksums must agree)."""
    n = rounds or (50_000_000 if quick else 500_000_000)
    with tempfile.TemporaryDirectory(prefix="bench-compute-") as tmp:
        work = Path(tmp)
        results = {
            "cage": cage(n, work),
            "plain wasmtime": plain_wasmtime(n, work),
            "native gcc -O2": native(n, work),
        }
    sums = {checksum for checksum, _ in results.values()}
    if len(sums) != 1:
        raise RuntimeError(f"checksums differ: {results}")
    rate = {k: n / ns * 1e3 for k, (_, ns) in results.items()}  # rounds/ns * 1e9 / 1e6
    return [
        Figure("compute", f"integer+FP loop, {n:,} rounds", "M rounds/s", rate["cage"],
               [Baseline(k, v) for k, v in rate.items() if k != "cage"], better="higher")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, help="loop rounds (default 5e8, --quick 5e7)")
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args(argv)
    print(format_table(collect(opts.quick, opts.rounds)))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
