"""Syscall round-trip cost inside a cage, side by side with native and wasmtime-py's WASI.

    python -m benchmarks.bench_syscalls [--calls N]

Prints ns/call for a `getpid` loop and a 1-byte `write` to /dev/null loop, run in one go:
the same C program built natively (gcc) and as a cage, plus a WAT loop calling WASI `fd_write`
through wasmtime-py's built-in WASI. Ratios are against native. Targets: getpid <= 600 ns, write
<= 1.0x wasmtime-py's WASI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import wasmtime

from benchmarks.report import Baseline, Figure, target_note

HERE = Path(__file__).parent
PROGRAM = HERE / "programs" / "syscall_loop.c"

_WASI_WRITE_LOOP = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "x")
  (func (export "run") (param $n i32)
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 1))
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))))
"""


def native(mode: str, calls: int, workdir: Path) -> float:
    exe = workdir / "syscall_loop"
    if not exe.exists():
        gcc = shutil.which("gcc") or "cc"
        subprocess.run([gcc, "-O2", "-o", str(exe), str(PROGRAM)], check=True)
    out = subprocess.run([str(exe), mode, str(calls)], capture_output=True, text=True, check=True)
    return float(out.stdout)


def cage(mode: str, calls: int, wasm: Path, workdir: Path) -> float:
    """The same program in a cage, through the CLI (its stdout is a pipe we read)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lind_async",
            "run",
            "--root",
            str(workdir),
            str(wasm),
            mode,
            str(calls),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def wasi_write(calls: int) -> float:
    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, _WASI_WRITE_LOOP)
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.stdout_file = "/dev/null"
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, module)
    run = instance.exports(store)["run"]
    assert isinstance(run, wasmtime.Func)
    start = time.perf_counter_ns()
    run(store, calls)
    return (time.perf_counter_ns() - start) / calls


def collect(quick: bool) -> list[Figure]:
    """getpid and 1-byte write round trips (ns/call) in a cage vs native (and WASI for write)."""
    from lind_async.toolchain.cc import compile_cached

    calls = 20_000 if quick else 200_000
    wasm = compile_cached(PROGRAM)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for mode in ("getpid", "write"):
            baselines = [Baseline("native", native(mode, calls, workdir))]
            if mode == "write":
                baselines.append(Baseline("wasmtime-py WASI", wasi_write(calls)))
            value = cage(mode, calls, wasm, workdir)
            if mode == "getpid":
                note = target_note("<= 600 ns", value <= 600)
            else:
                wasi = baselines[1].value
                note = target_note("<= 1.0x wasmtime-py WASI", value <= wasi)
            figures.append(Figure("syscalls", f"{mode} round trip", "ns/call", value, baselines,
                                  note=note))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200_000, help="calls per measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    opts = parser.parse_args(argv)
    from lind_async.toolchain.cc import compile_cached

    wasm = compile_cached(PROGRAM)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for mode in ("getpid", "write"):
            base = native(mode, opts.calls, workdir)
            in_cage = cage(mode, opts.calls, wasm, workdir)
            row = {"call": mode, "native_ns": base, "cage_ns": in_cage}
            if mode == "write":
                row["wasmtime_wasi_ns"] = wasi_write(opts.calls)
            rows.append(row)
    print(
        f"{'call':<8} {'native':>10} {'cage':>10} {'ratio':>7} "
        f"{'wasmtime-py WASI':>17} {'ratio':>7}"
    )
    for r in rows:
        wasi = r.get("wasmtime_wasi_ns")
        wasi_cols = (
            f"{wasi:>14.0f} ns {wasi / r['native_ns']:>6.1f}x" if wasi else f"{'-':>17} {'-':>7}"
        )
        print(
            f"{r['call']:<8} {r['native_ns']:>7.0f} ns {r['cage_ns']:>7.0f} ns "
            f"{r['cage_ns'] / r['native_ns']:>6.1f}x {wasi_cols}"
        )
    getpid = next(r for r in rows if r["call"] == "getpid")
    target = "met" if getpid["cage_ns"] <= 600 else "NOT met"
    print(f"target getpid round trip <= 600 ns: {target} ({getpid['cage_ns']:.0f} ns)")
    write = next(r for r in rows if r["call"] == "write")
    ratio = write["cage_ns"] / write["wasmtime_wasi_ns"]
    target = "met" if ratio <= 1.0 else "NOT met"
    print(f"target write <= 1.0x wasmtime-py WASI: {target} ({ratio:.2f}x)")
    if opts.json:
        opts.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
