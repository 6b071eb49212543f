"""fork (asyncify) and setjmp/longjmp (exnref) costs.

    python -m benchmarks.bench_fork [--forks N]

Prints: the code-size growth asyncify causes for a fork program (the module as linked vs after the
post-link passes, and what ignoring indirect calls would save); ms per fork+exit+wait natively and
in a cage, with 0 and 64 MiB of touched heap (copy-on-write: the heap is not copied); the
SjLj flags' cost on a program without setjmp (module bytes with and without them); and ns per
setjmp+longjmp natively vs in a cage, and per bare wasm throw+catch in plain wasmtime (the floor
under a longjmp lowered to a wasm exception).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import Baseline, Figure
from lind_async.toolchain import binaryen, cc
from lind_async.toolchain.sysroot import SJLJ_CFLAGS, TARGET_CFLAGS, Sysroot, ensure_sysroot
from lind_async.toolchain.zig import zig
from lind_async.wasm.binary import read_interface

HERE = Path(__file__).parent
FORK = HERE / "programs" / "fork_loop.c"
SJLJ = HERE / "programs" / "sjlj_loop.c"
PLAIN = HERE / "programs" / "syscall_loop.c"


def _code_size(data: bytes) -> int:
    """Bytes of the code section (id 10)."""
    pos = 8
    while pos < len(data):
        sid = data[pos]
        pos += 1
        size = shift = 0
        while True:
            b = data[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if sid == 10:
            return size
        pos += size
    return 0


def _link_raw(source: Path, out: Path, flags: tuple[str, ...]) -> bytes:
    sr = Sysroot(ensure_sysroot())
    obj = out.with_suffix(".o")
    subprocess.run(zig("clang", *TARGET_CFLAGS, *flags, "-O2", "-isystem", str(sr.include), "-c",
                       str(source), "-o", str(obj)), check=True)
    subprocess.run(cc.link_args(sr, [obj], out, stack_size=cc.DEFAULT_STACK_SIZE,
                                max_memory=cc.DEFAULT_MAX_MEMORY), check=True)
    return out.read_bytes()


def _wasm_opt(src: Path, dst: Path, args: list[str]) -> bytes:
    subprocess.run([*binaryen.wasm_opt(), *binaryen.FEATURES, *args, str(src), "-o", str(dst)],
                   check=True, capture_output=True)
    return dst.read_bytes()


def _cage(wasm: Path, args: list[str]) -> str:
    out = subprocess.run([sys.executable, "-m", "lind_async", "run", str(wasm), *args],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _native(src: Path, work: Path, args: list[str]) -> str:
    exe = work / src.stem
    if not exe.exists():
        subprocess.run([shutil.which("gcc") or "cc", "-O2", "-o", str(exe), str(src)], check=True)
    return subprocess.run([str(exe), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _native_figure(src: Path, work: Path, args: list[str], runs: int) -> float:
    """Median of ``runs`` runs after one untimed one (a fresh binary's first run was seen 3-20x
    slower: 0.3-2.4 ms per small fork against 0.1 ms warm)."""
    _native(src, work, args)
    return _median([float(_native(src, work, args)) for _ in range(runs)])


THROW_WAT = """
(module
  (tag $t (param i32))
  (func $thrower (param i32) (throw $t (local.get 0)))
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (block $caught (result i32)
        (try_table (catch $t $caught) (call $thrower (local.get $i)))
        (i32.const 0))
      (local.set $acc (i32.add (local.get $acc)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc)))
"""


def plain_throw_ns(n: int, rounds: int = 5) -> float:
    """ns per bare wasm ``throw`` caught by a ``try_table`` one call up, in wasmtime with its
    default configuration plus exceptions and nothing of lind_async (the floor under a
    setjmp/longjmp, which is one such throw+catch): the best of ``rounds`` loops of ``n``."""
    import wasmtime

    config = wasmtime.Config()
    config.wasm_exceptions = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    run = wasmtime.Instance(store, wasmtime.Module(engine, THROW_WAT), []).exports(store)["run"]
    assert isinstance(run, wasmtime.Func)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run(store, n)
        best = min(best, (time.perf_counter() - start) / n * 1e9)
    return best


def collect(quick: bool) -> list[Figure]:
    """fork+exit+wait (0 and 64 MiB touched heap) and setjmp+longjmp, cage vs native (the
    longjmp also vs a bare wasm throw+catch in plain wasmtime); the asyncify code growth is left
    to ``main``. Native figures are medians of 3 warm runs; cage figures of 1 run (quick) or 3."""
    forks = {"0": 300, "64": 50} if quick else {"0": 2000, "64": 200}
    loops = "20000" if quick else "200000"
    cage_runs = 1 if quick else 3
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wasm = cc.compile_cached(FORK)
        for heap in ("0", "64"):
            args = [str(forks[heap]), heap]
            nat = _native_figure(FORK, work, args, 3)
            cg = _median([float(_cage(wasm, args)) for _ in range(cage_runs)])
            figures.append(Figure("fork", f"fork+exit+wait, {heap} MiB heap", "ms", cg,
                                  [Baseline("native", nat)]))
        sj = cc.compile_cached(SJLJ)
        for mode in ("jump", "calls"):
            nat = _native_figure(SJLJ, work, [mode, loops], 3)
            cg = _median([float(_cage(sj, [mode, loops])) for _ in range(cage_runs)])
            baselines = [Baseline("native", nat)]
            if mode == "jump":
                baselines.append(Baseline("plain wasmtime: bare throw+catch",
                                          plain_throw_ns(int(loops))))
            figures.append(Figure("fork", f"setjmp/longjmp ({mode})", "ns/iteration", cg,
                                  baselines))
    return figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--forks", type=int, default=100)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw = work / "fork_raw.wasm"
        base = _link_raw(FORK, raw, SJLJ_CFLAGS)
        variants = {
            "as linked": base,
            "wasm-opt -O2 only": _wasm_opt(raw, work / "o2.wasm", ["-O2"]),
            "asyncify (cc: -O2, indirect calls)": _wasm_opt(raw, work / "a.wasm",
                                                            binaryen.asyncify_args()),
            "asyncify, no -O2": _wasm_opt(raw, work / "a0.wasm", binaryen.asyncify_args()[1:]),
            "asyncify, ignore indirect": _wasm_opt(raw, work / "ai.wasm", [
                *binaryen.asyncify_args(), "--pass-arg=asyncify-ignore-indirect",
                "--pass-arg=asyncify-addlist@__libc_start_main,libc_start_main_stage2"]),
        }
        print("fork program code section (bytes), vs as linked:")
        b0 = _code_size(base)
        for name, data in variants.items():
            c = _code_size(data)
            print(f"  {name:38} {c:8d}  {100 * (c - b0) / b0:+6.1f} %")

        wasm = cc.compile_program([FORK], work / "fork_loop.wasm")
        assert any(e.name == "asyncify_start_unwind" for e in read_interface(wasm.read_bytes())[1])
        print("fork+exit+wait, ms per fork:")
        for heap in ("0", "64"):
            nat = float(_native(FORK, work, [str(opts.forks), heap]))
            cg = float(_cage(wasm, [str(opts.forks), heap]))
            print(f"  heap {heap:>2} MiB   native {nat:7.3f}   cage {cg:7.3f}")

        plain_sjlj = _code_size(_link_raw(PLAIN, work / "p1.wasm", SJLJ_CFLAGS))
        plain = _code_size(_link_raw(PLAIN, work / "p0.wasm", ()))
        print(f"SjLj flags on a program without setjmp: code {plain} -> {plain_sjlj} bytes")
        sj = cc.compile_program([SJLJ], work / "sjlj_loop.wasm")
        for mode in ("jump", "calls"):
            nat = float(_native(SJLJ, work, [mode, "200000"]))
            cg = float(_cage(sj, [mode, "200000"]))
            print(f"  {mode:6} ns/iteration   native {nat:8.1f}   cage {cg:8.1f}")
        print(f"  bare wasm throw+catch, plain wasmtime: {plain_throw_ns(200000):.1f} ns")


if __name__ == "__main__":
    main()
