"""Regular-file I/O inside a cage, side by side with the same program built natively.

    python -m benchmarks.bench_files [--mib N] [--opens N]

Prints sequential read throughput (MB/s) of a page-cached file in 1 KiB and 64 KiB ``read()``
calls, and the latency of an ``open`` + ``close`` pair, for the native build and the cage; ratios
are cage/native for throughput and cage/native for latency. Each figure is the program's best of
5 rounds (``programs/file_loop.c``), natively and in the cage alike: one round's wall clock on a
shared machine swung 2x from run to run. In the cage, reads, ``open`` and ``close`` are served by
the compiled trampoline (``native/syscall_entry.c``, ``native/syscall_files.c``): this measures
that fast path.
Targets: 64 KiB reads at >= 50 % of native throughput, 1 KiB reads at >= 35 %, ``open`` +
``close`` at <= 3x native.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.report import Baseline, Figure, target_note

HERE = Path(__file__).parent
PROGRAM = HERE / "programs" / "file_loop.c"


def native(args: list[str], workdir: Path) -> float:
    exe = workdir / "file_loop"
    if not exe.exists():
        gcc = shutil.which("gcc") or "cc"
        subprocess.run([gcc, "-O2", "-o", str(exe), str(PROGRAM)], check=True)
    out = subprocess.run([str(exe), *args], capture_output=True, text=True, check=True, cwd=workdir)
    return float(out.stdout)


def cage(args: list[str], wasm: Path, workdir: Path) -> float:
    """The same program in a cage whose root is ``workdir`` (its cwd is the root)."""
    out = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(workdir), str(wasm), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def collect(quick: bool) -> list[Figure]:
    """Read throughput (1 KiB, 64 KiB calls) and open+close latency, cage vs native."""
    from lind_async.toolchain.cc import compile_cached

    mib, opens = (8, 2000) if quick else (64, 20_000)
    wasm = compile_cached(PROGRAM)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for label, args, unit, better in (
            ("read 1 KiB", ["read", "1024", str(mib)], "MB/s", "higher"),
            ("read 64 KiB", ["read", "65536", str(mib)], "MB/s", "higher"),
            ("open+close", ["open", str(opens)], "ns", "lower"),
        ):
            base = native(args, workdir)
            value = cage(args, wasm, workdir)
            note = ""
            if label == "read 64 KiB":
                note = target_note(">= 50% of native", value >= 0.5 * base)
            elif label == "read 1 KiB":
                note = target_note(">= 35% of native", value >= 0.35 * base)
            else:
                note = target_note("<= 3x native", value <= 3 * base)
            figures.append(Figure("files", label, unit, value, [Baseline("native", base)],
                                  better=better, note=note))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=64, help="file size for the read runs")
    parser.add_argument("--opens", type=int, default=20_000, help="open+close pairs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    opts = parser.parse_args(argv)
    from lind_async.toolchain.cc import compile_cached

    wasm = compile_cached(PROGRAM)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for label, args, unit in (
            ("read 1 KiB", ["read", "1024", str(opts.mib)], "MB/s"),
            ("read 64 KiB", ["read", "65536", str(opts.mib)], "MB/s"),
            ("open+close", ["open", str(opts.opens)], "ns"),
        ):
            base = native(args, workdir)
            in_cage = cage(args, wasm, workdir)
            rows.append({"case": label, "unit": unit, "native": base, "cage": in_cage})
    print(f"{'case':<12} {'native':>14} {'cage':>14} {'cage/native':>12}")
    for r in rows:
        print(
            f"{r['case']:<12} {r['native']:>9.0f} {r['unit']:<4} {r['cage']:>9.0f} {r['unit']:<4} "
            f"{r['cage'] / r['native']:>11.2f}x"
        )
    for case, op, bound in (("read 64 KiB", ">=", 0.5), ("read 1 KiB", ">=", 0.35),
                            ("open+close", "<=", 3.0)):
        row = next(r for r in rows if r["case"] == case)
        ratio = row["cage"] / row["native"]
        met = ratio >= bound if op == ">=" else ratio <= bound
        print(f"target {case} {op} {bound:g}x native: {'met' if met else 'NOT met'} "
              f"({ratio:.2f}x)")
    if opts.json:
        opts.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
