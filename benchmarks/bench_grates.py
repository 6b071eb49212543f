"""Grate overhead: a no-op interposition stacked 0-4 deep, and file reads through a grate.

    python -m benchmarks.bench_grates [--calls N] [--repeat R] [--cpu] [--json FILE]

One cage program (programs/grate_loop.c) times its own loop with clock_gettime and prints
ns/call; every configuration runs it through the CLI, side by side, in one go (the best of
``--repeat`` runs is kept: the machine's other load only ever adds time). ``--cpu`` times the
loops in the CPU time of the microvisor's loop thread instead of wall time: on a shared, loaded
machine that moves far less.

1. ``geteuid`` under 0, 1, 2 and 4 stacked no-op grates, Python (the classes below, stacked with
   ``--grate``) and C (programs/noop_grate.c built with ``cc --grate``, stacked by exec'ing one
   under another: ``g.wasm --answer /bin/g.wasm /bin/app.wasm``). *forward*: every grate passes
   the call on and RawPOSIX answers; *answer*: the bottom grate answers (the others forward), so
   nothing reaches RawPOSIX. The per-hop cost is the least-squares slope over the stack depths;
   the targets (``benchmarks/targets.py``) are one Python hop <= 1 us and one C hop <= 2 us,
   each row judged.
2. ``read`` of 1 B and 4 KiB from a file RawPOSIX serves (in the root), the same file in the C
   ``imfs`` grate, and in the Python ``memfs`` under ``namespace:/tmp=memfs``.
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
from typing import TYPE_CHECKING

from lind_async.threei.python_grates import Call, Forward, Grate

if TYPE_CHECKING:  # this file is also loaded by path as a --grate module, without benchmarks/
    from benchmarks.report import Figure

HERE = Path(__file__).resolve().parent
APP = HERE / "programs" / "grate_loop.c"
NOOP_GRATE = HERE / "programs" / "noop_grate.c"
IMFS = HERE.parent / "lind_async" / "grates" / "imfs.c"
DEPTHS = (0, 1, 2, 4)
PY_TARGET_NS = 1000.0  # (as benchmarks/targets.py has them)
C_TARGET_NS = 2000.0


class PassThrough(Grate):
    """Forwards geteuid unchanged (the idiomatic ``async def`` handler)."""

    async def sys_geteuid(self, call: Call) -> int:
        return await call.forward()


class PlainPassThrough(Grate):
    """Forwards geteuid unchanged from a plain function (no coroutine)."""

    def sys_geteuid(self, call: Call) -> Forward:
        return call.forward()


class Answer(Grate):
    """Answers geteuid itself."""

    def sys_geteuid(self, call: Call) -> int:
        return 0


def _py_grate(cls: type[Grate]) -> str:
    return f"{Path(__file__).resolve()}:{cls.__name__}"


def _run(root: Path, grates: list[str], argv: list[str]) -> float:
    """One run of the CLI; the program's own ns/call."""
    cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(root)]
    for spec in grates:
        cmd += ["--grate", spec]
    out = subprocess.run(cmd + argv, capture_output=True, text=True, check=False, cwd=root)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd + argv)} failed ({out.returncode}):\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


def _best(repeat: int, root: Path, grates: list[str], argv: list[str]) -> float:
    return min(_run(root, grates, argv) for _ in range(repeat))


def _slope(points: list[tuple[int, float]]) -> float:
    """Least-squares ns per added grate."""
    n = len(points)
    mx = sum(k for k, _ in points) / n
    my = sum(v for _, v in points) / n
    num = sum((k - mx) * (v - my) for k, v in points)
    den = sum((k - mx) ** 2 for k, _ in points)
    return num / den


def geteuid_rows(
    root: Path, calls: int, repeat: int, cpu: bool = False
) -> list[dict[str, object]]:
    app = ["bin/app.wasm"]
    loop = ["geteuid", str(calls), *(["cpu"] if cpu else [])]
    base = _best(repeat, root, [], [*app, *loop])
    rows: list[dict[str, object]] = []
    py_forward = {
        "async def": _py_grate(PassThrough),
        "plain def": _py_grate(PlainPassThrough),
    }
    for label, fwd in py_forward.items():
        for variant in ("forward", "answer"):
            if variant == "answer" and label != "async def":
                continue
            points = [(0, base)]
            for k in DEPTHS[1:]:
                stack = [fwd] * k
                if variant == "answer":
                    stack[-1] = _py_grate(Answer)  # the last listed is innermost
                points.append((k, _best(repeat, root, stack, [*app, *loop])))
            rows.append({"kind": f"Python ({label})", "variant": variant, "points": points})
    for variant in ("forward", "answer"):
        points = [(0, base)]
        for k in DEPTHS[1:]:
            argv = ["bin/g.wasm"]
            if variant == "answer":
                argv.append("--answer")  # the first launched is the bottom grate
            argv += ["/bin/g.wasm"] * (k - 1) + ["/bin/app.wasm", *loop]
            points.append((k, _best(repeat, root, [], argv)))
        rows.append({"kind": "C", "variant": variant, "points": points})
    for row in rows:
        pts = row["points"]
        assert isinstance(pts, list)
        # answer at depth 0 is RawPOSIX answering: the slope is taken over depths >= 1
        fit = pts if row["variant"] == "forward" else pts[1:]
        row["per_hop_ns"] = _slope(fit)
        row["first_hop_ns"] = pts[1][1] - pts[0][1]
    return rows


def read_rows(root: Path, calls: int, repeat: int, cpu: bool = False) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    clock = ["cpu"] if cpu else []
    for size in (1, 4096):
        n = str(calls)
        raw = _best(
            repeat, root, [], ["bin/app.wasm", "read", str(size), n, "/bench.dat", *clock]
        )
        imfs = _best(
            repeat,
            root,
            [],
            ["bin/imfs.wasm", "/bin/app.wasm", "read", str(size), n, "/bench.dat", *clock],
        )
        memfs = _best(
            repeat,
            root,
            ["namespace:/tmp=memfs"],
            ["bin/app.wasm", "read", str(size), n, "/tmp/bench.dat", *clock],
        )
        rows.append({"size": size, "rawposix_ns": raw, "imfs_ns": imfs, "memfs_ns": memfs})
    return rows


def build(root: Path) -> None:
    from lind_async.toolchain.cc import compile_cached

    (root / "bin").mkdir(parents=True)
    (root / "tmp").mkdir()
    shutil.copy(compile_cached(APP), root / "bin" / "app.wasm")
    shutil.copy(compile_cached(NOOP_GRATE, flags=["--grate"]), root / "bin" / "g.wasm")
    shutil.copy(compile_cached(IMFS, flags=["--grate"]), root / "bin" / "imfs.wasm")


def _us(ns: float) -> str:
    return f"{ns / 1000:.2f} us"


def report(
    geteuid: list[dict[str, object]], reads: list[dict[str, object]], cpu: bool = False
) -> None:
    clock = "loop-thread CPU" if cpu else "wall"
    print(f"geteuid, ns/call ({clock} time) by number of stacked grates (ratio to no grate)")
    head = "".join(f"{f'{k} grates':>17}" for k in DEPTHS)
    print(f"{'grate':<20}{'variant':<9}{head}{'per hop':>10}{'1st hop':>10}")
    for row in geteuid:
        pts = row["points"]
        assert isinstance(pts, list)
        base = pts[0][1]
        cells = "".join(f"{v:>9.0f} ns {v / base:>4.1f}x" for _, v in pts)
        per_hop, first = row["per_hop_ns"], row["first_hop_ns"]
        assert isinstance(per_hop, float) and isinstance(first, float)
        print(f"{row['kind']:<20}{row['variant']:<9}{cells}{per_hop:>7.0f} ns{first:>7.0f} ns")
    print("(answer: the bottom grate answers; at 0 grates RawPOSIX does. per hop: least-squares")
    print(" slope over the depths, for answer over 1-4 grates; 1st hop: 1 grate minus 0)")
    print()
    print(f"read from a file, ns/call ({clock} time, ratio to RawPOSIX)")
    print(f"{'size':<8}{'RawPOSIX':>12}{'imfs (C)':>19}{'memfs (Python)':>19}")
    for r in reads:
        raw, imfs, memfs = r["rawposix_ns"], r["imfs_ns"], r["memfs_ns"]
        assert isinstance(raw, float) and isinstance(imfs, float) and isinstance(memfs, float)
        size = "1 B" if r["size"] == 1 else "4 KiB"
        print(
            f"{size:<8}{raw:>9.0f} ns{imfs:>10.0f} ns {imfs / raw:>5.1f}x"
            f"{memfs:>10.0f} ns {memfs / raw:>5.1f}x"
        )
    print()
    for row in geteuid:
        hop = row["per_hop_ns"]
        assert isinstance(hop, float)
        target = C_TARGET_NS if row["kind"] == "C" else PY_TARGET_NS
        verdict = "met" if hop <= target else "NOT met"
        print(
            f"target one hop <= {_us(target)}, {row['kind']} {row['variant']}: {verdict}"
            f" ({_us(hop)} per hop)"
        )


def collect(quick: bool) -> list[Figure]:
    """geteuid through 4 stacked grates vs none, the per-hop slopes (with the targets), and
    reads through imfs/memfs vs RawPOSIX."""
    from benchmarks.report import Baseline, Figure, target_note

    calls, repeat = (5000, 1) if quick else (50_000, 3)
    with tempfile.TemporaryDirectory(prefix="bench-grates-") as tmp:
        root = Path(tmp)
        build(root)
        geteuid = geteuid_rows(root, calls, repeat)
        reads = read_rows(root, calls, repeat)
    figures = []
    for row in geteuid:
        pts = row["points"]
        hop = row["per_hop_ns"]
        assert isinstance(pts, list) and isinstance(hop, float)
        label = f"{row['kind']} {row['variant']}"
        figures.append(Figure("grates", f"geteuid, {DEPTHS[-1]} grates: {label}", "ns/call",
                              pts[-1][1], [Baseline("no grate", pts[0][1])]))
        limit = C_TARGET_NS if row["kind"] == "C" else PY_TARGET_NS
        note = target_note(f"one hop <= {_us(limit)}", hop <= limit)
        figures.append(Figure("grates", f"one hop: {label}", "ns", hop, note=note))
    for r in reads:
        raw, imfs, memfs = r["rawposix_ns"], r["imfs_ns"], r["memfs_ns"]
        assert isinstance(raw, float) and isinstance(imfs, float) and isinstance(memfs, float)
        size = "1 B" if r["size"] == 1 else "4 KiB"
        figures.append(Figure("grates", f"read {size}, imfs (C grate)", "ns/call", imfs,
                              [Baseline("RawPOSIX", raw)]))
        figures.append(Figure("grates", f"read {size}, memfs (Python)", "ns/call", memfs,
                              [Baseline("RawPOSIX", raw)]))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calls", type=int, default=50_000,
        help="calls per measurement",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (best kept)")
    parser.add_argument(
        "--cpu", action="store_true",
        help="time the loops in the loop thread's CPU time, not wall time",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-grates-") as tmp:
        root = Path(tmp)
        build(root)
        geteuid = geteuid_rows(root, opts.calls, opts.repeat, opts.cpu)
        reads = read_rows(root, opts.calls, opts.repeat, opts.cpu)
    report(geteuid, reads, opts.cpu)
    if opts.json:
        opts.json.write_text(json.dumps({"geteuid": geteuid, "read": reads}, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
