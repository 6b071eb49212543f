"""Compute throughput: CPU-bound programs in a cage, in plain wasmtime, and native.

    python -m benchmarks.bench_compute [--rounds N] [--quick]

``programs/compute_loop.c`` mixes integer and floating-point work, ``programs/memcpy_loop.c``
calls libc's memcpy/memmove/memset/strlen over sizes from 7 bytes to 16 KiB; each prints a
checksum and the CPU ns its loop took (timed by the program itself, so start-up is not counted;
CPU time rather than wall time, so a busy machine moves the figures less; under plain wasmtime,
whose WASI has no CPU clock, the CPU time of the ``_start`` call). The same source runs three
ways, in one go:

- in a cage (``lind_async run``: our runtime, epoch preemption on, default 5 ms slice);
- in plain wasmtime-py with its built-in WASI, no lind runtime: built by ``zig cc -target
  wasm32-wasi -O2`` against zig's wasi-libc (the cage build imports ``lind`` functions and cannot
  run standalone);
- natively, ``gcc -O2``.

Figures are million rounds per second; all three must print the same checksum. Each way runs
:data:`REPEAT` times, the three taking turns, and the figure is each way's fastest run: on a
shared machine other work only ever slows a run down, and a single pair of runs put the compute
loop's cage/plain ratio anywhere between 0.93x and 0.96x at load 6-8, across the target.

**Lua** (:func:`ensure_lua`): real Lua 5.4 from the ``lupa`` sdist (fetched with pip
once and cached), built natively with ``gcc -O2`` and with ``lind-cc -O2``, runs
``programs/lua_bench.lua`` (recursion, loops, tables, strings, closures); the figure is the
script's CPU ms (``os.clock``), cage vs ``native`` (the same sources built by gcc -O2), the
fastest of :data:`REPEAT` turns each. When the sdist cannot be had the figure says so.

Lua's figure also has the **engine's floor** beside it: the same sources built for wasm32-wasi by
``zig cc -O2`` (wasi-libc; it has no setjmp, so Lua's error throw becomes ``abort()``, which the
script never reaches) and run by plain wasmtime-py, once as it is and once compiled with epoch
interruption (the checks wasmtime's preemption needs at every loop header and function entry; the
deadline is never reached, so this is the checks alone, without the yields a cage also takes).
Both are timed by the process's CPU time around ``_start`` (WASI has no CPU clock), which also
counts Lua's few milliseconds of start-up. A cage cannot be faster than plain wasmtime with
epochs: that ratio to native is the floor under the Lua target.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from benchmarks.report import Baseline, Figure, format_table, target_note

HERE = Path(__file__).parent
PROGRAM = HERE / "programs" / "compute_loop.c"
MEMCPY_PROGRAM = HERE / "programs" / "memcpy_loop.c"
LUA_SCRIPT = HERE / "programs" / "lua_bench.lua"

COMPUTE_TARGET = 0.95
"""compute_loop in a cage (preemption on) vs plain wasmtime-py: at least this fraction."""
LUA_TARGET = 1.5
"""Real Lua in a cage vs native Lua: at most this many times slower."""
REPEAT = 3
"""Runs of each way (taking turns); the fastest counts."""


def _parse(out: str) -> tuple[str, float]:
    checksum, ns = out.split()
    return checksum, float(ns)


def native(rounds: int, work: Path, program: Path = PROGRAM) -> tuple[str, float]:
    exe = work / program.stem
    subprocess.run([shutil.which("gcc") or "cc", "-O2", "-o", str(exe), str(program)], check=True)
    out = subprocess.run([str(exe), str(rounds)], capture_output=True, text=True, check=True)
    return _parse(out.stdout)


def cage(rounds: int, work: Path, program: Path = PROGRAM) -> tuple[str, float]:
    from lind_async.toolchain.cc import compile_cached

    wasm = compile_cached(program)
    out = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(work), str(wasm), str(rounds)],
        capture_output=True, text=True, check=True,
    )
    return _parse(out.stdout)


def plain_wasmtime(rounds: int, work: Path, program: Path = PROGRAM) -> tuple[str, float]:
    """The same source for wasm32-wasi (zig's wasi-libc), run by wasmtime-py's WASI."""
    from lind_async.toolchain.zig import zig

    wasm = work / f"{program.stem}_wasi.wasm"
    subprocess.run(zig("cc", "-target", "wasm32-wasi", "-O2", "-o", str(wasm), str(program)),
                   check=True)
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(wasm))
    store = wasmtime.Store(engine)
    out_file = work / "wasi.out"
    wasi = wasmtime.WasiConfig()
    wasi.argv = [program.stem, str(rounds)]
    wasi.stdout_file = str(out_file)
    cpu_ns = run_wasi_start(engine, module, store, wasi)
    # WASI has no CPU clock: the program's own figure is wall time; count CPU time here.
    checksum, _ = _parse(out_file.read_text())
    return checksum, cpu_ns


def run_wasi_start(engine: wasmtime.Engine, module: wasmtime.Module, store: wasmtime.Store,
                   wasi: wasmtime.WasiConfig) -> float:
    """Run ``module``'s ``_start`` under wasmtime-py's WASI (``wasi``); the CPU ns it took (an
    exit status other than 0 raises)."""
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    start = linker.instantiate(store, module).exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    cpu = time.process_time()
    try:
        start(store)
    except wasmtime.ExitTrap as exit_trap:
        if exit_trap.code != 0:
            raise
    return (time.process_time() - cpu) * 1e9

LUPA = "lupa==2.8"
"""The PyPI sdist that bundles Lua's C sources (``third-party/lua54``)."""
LUA_DIR = "third-party/lua54"
LUA_CFLAGS = ("-O2", "-DLUA_USE_POSIX")


class LuaUnavailable(Exception):
    """Real Lua could not be fetched or built (the message says why, in one line)."""


@dataclass(frozen=True)
class LuaBuilds:
    native: Path
    cage: Path
    wasi: Path | None  # None: zig could not build it (the figure then has no floor)


LUA_WASI_FLAGS = (
    "-target", "wasm32-wasi", "-O2",
    "-D_WASI_EMULATED_SIGNAL", "-D_WASI_EMULATED_PROCESS_CLOCKS",
    # wasi-libc has no setjmp/longjmp: a Lua error aborts (lua_bench.lua raises none)
    "-DLUAI_THROW(L,c)=abort()", "-DLUAI_TRY(L,c,a)={a}", "-Dluai_jmpbuf=int",
    # nor tmpnam: os.tmpname fails
    "-Dlua_tmpnam(b,e)={e=1;}", "-DLUA_TMPNAMBUFSIZE=32",
)
LUA_WASI_LIBS = ("-lwasi-emulated-signal", "-lwasi-emulated-process-clocks", "-lm")
_LUA_WASI_SHIM = (  # what liolib/loslib call and wasi-libc lacks: they fail, as documented
    "#include <stdio.h>\n#include <stdlib.h>\n"
    "FILE *tmpfile(void) { return NULL; }\n"
    "int system(const char *command) { (void)command; return -1; }\n"
)


def _lua_wasi(src: Path) -> Path | None:
    """Lua for wasm32-wasi (plain wasmtime), built once next to the sources; None when zig
    cannot build it."""
    from lind_async.toolchain.zig import ToolchainError, zig

    out = src / "lua-wasi.wasm"
    if out.is_file():
        return out
    work = Path(tempfile.mkdtemp(prefix=".lua-wasi-", dir=src))
    try:
        (work / "include").mkdir()
        (work / "include" / "setjmp.h").write_text("/* no setjmp in wasi-libc */\n")
        (work / "shim.c").write_text(_LUA_WASI_SHIM)
        tmp = work / "lua.wasm"
        done = subprocess.run(zig("cc", *LUA_WASI_FLAGS, f"-I{work / 'include'}", "-o", str(tmp),
                                  str(src / "onelua.c"), str(work / "shim.c"), *LUA_WASI_LIBS),
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return None
        os.replace(tmp, out)
        return out
    except (OSError, ToolchainError):
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _lua_sources(cache: Path) -> Path:
    """``third-party/lua54`` of the lupa sdist, unpacked once under ``cache`` (pip fetches the
    sdist the first time: about a minute, it prepares the sdist's metadata)."""
    import tarfile

    sdists = sorted((cache / "sdist").glob("lupa-*.tar.gz"))
    if not sdists:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", "lupa", LUPA, "-d", str(cache / "sdist")],
                capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise LuaUnavailable(f"pip could not fetch the {LUPA} sdist: {e}") from None
        sdists = sorted((cache / "sdist").glob("lupa-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            why = (done.stderr.strip().splitlines() or ["no sdist"])[-1]
            raise LuaUnavailable(f"pip could not fetch the {LUPA} sdist: {why}")
    sdist = sdists[-1]
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()[:16]
    src = cache / f"lua54-{digest}"
    if (src / "onelua.c").is_file():
        return src
    tmp = Path(tempfile.mkdtemp(prefix=".lua54-", dir=cache))
    try:
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if (member.isfile() and len(parts) == 4 and "/".join(parts[1:3]) == LUA_DIR
                        and parts[3].endswith((".c", ".h"))):
                    data = tar.extractfile(member)
                    assert data is not None
                    (tmp / parts[3]).write_bytes(data.read())
        if not (tmp / "onelua.c").is_file():
            raise LuaUnavailable(f"{sdist.name} has no {LUA_DIR}/onelua.c")
        os.replace(tmp, src)
    except OSError as e:
        raise LuaUnavailable(f"cannot unpack {sdist.name}: {e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return src


def ensure_lua() -> LuaBuilds:
    """The Lua interpreter (``onelua.c``) built with gcc and with lind-cc, cached."""
    from lind_async.toolchain.cc import compile_cached
    from lind_async.toolchain.sysroot import cache_root
    from lind_async.toolchain.zig import ToolchainError

    cache = cache_root() / "bench-lua"
    cache.mkdir(parents=True, exist_ok=True)
    src = _lua_sources(cache)
    native_exe = src / "lua-native"
    gcc = shutil.which("gcc") or shutil.which("cc")
    if not native_exe.is_file():
        if gcc is None:
            raise LuaUnavailable("no gcc to build native Lua with")
        tmp = src / f".lua-native.{os.getpid()}"
        done = subprocess.run([gcc, *LUA_CFLAGS, "-o", str(tmp), str(src / "onelua.c"), "-lm"],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LuaUnavailable(f"gcc could not build Lua: {done.stderr.strip()[:200]}")
        os.replace(tmp, native_exe)
    # The cache key covers onelua.c itself; the sources it includes come with the sdist, named
    # by the directory's digest.
    try:
        wasm = compile_cached(src / "onelua.c",
                              flags=[*LUA_CFLAGS, f"-DLIND_BENCH_LUA_{src.name[6:]}", "-lm"])
    except ToolchainError as e:
        raise LuaUnavailable(f"lind-cc could not build Lua: {str(e)[:200]}") from None
    return LuaBuilds(native=native_exe, cage=wasm, wasi=_lua_wasi(src))


def plain_lua(wasm: Path, script: Path, scale: int, *, epochs: bool) -> tuple[str, float]:
    """``lua_bench.lua`` in the wasm32-wasi Lua under plain wasmtime-py (``epochs``: compiled
    with epoch interruption, deadline never reached): checksum and CPU ns of ``_start``."""
    config = wasmtime.Config()
    config.epoch_interruption = epochs
    engine = wasmtime.Engine(config)
    module = wasmtime.Module.from_file(engine, str(wasm))
    store = wasmtime.Store(engine)
    if epochs:
        store.set_epoch_deadline(1 << 62)
    out_file = script.parent / "lua-wasi.out"
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["lua", script.name, str(scale)]
    wasi.preopen_dir(str(script.parent), ".")
    wasi.stdout_file = str(out_file)
    cpu_ns = run_wasi_start(engine, module, store, wasi)
    checksum, _ = _parse(out_file.read_text())
    return checksum, cpu_ns



def three_ways(program: Path, rounds: int, work: Path, repeat: int = REPEAT) -> dict[str, float]:
    """Million rounds/s of ``program`` in a cage, in plain wasmtime and native gcc -O2, the
    fastest of ``repeat`` turns each (every run's checksum must agree)."""
    ways = {"cage": cage, "plain wasmtime": plain_wasmtime, "native gcc -O2": native}
    best: dict[str, float] = {}
    sums: set[str] = set()
    for _ in range(max(1, repeat)):
        for name, run in ways.items():
            checksum, ns = run(rounds, work, program)
            sums.add(checksum)
            best[name] = min(ns, best.get(name, ns))
    if len(sums) != 1:
        raise RuntimeError(f"{program.name}: checksums differ: {sorted(sums)}")
    return {k: rounds / ns * 1e3 for k, ns in best.items()}  # rounds/ns * 1e9 / 1e6


def lua_figure(quick: bool, work: Path, repeat: int = REPEAT) -> Figure:
    """CPU ms of ``lua_bench.lua`` in real Lua, the fastest of ``repeat`` turns each: cage vs
    native (one line when Lua is missing)."""
    scale = 2 if quick else 10
    metric = f"Lua 5.4 (real, from the lupa sdist), lua_bench.lua x{scale}"
    try:
        lua = ensure_lua()
    except LuaUnavailable as e:
        return Figure("compute", metric, "ms CPU", 0.0, [], note=f"not measured: {e}")
    script = work / LUA_SCRIPT.name
    shutil.copyfile(LUA_SCRIPT, script)
    cage_ns = native_ns = float("inf")
    floors = {"plain wasmtime, epochs on": True, "plain wasmtime": False} if lua.wasi else {}
    floor_ns = dict.fromkeys(floors, float("inf"))
    for _ in range(max(1, repeat)):
        for name, epochs in floors.items():
            assert lua.wasi is not None
            floor_sum, floor_run = plain_lua(lua.wasi, script, scale, epochs=epochs)
            floor_ns[name] = min(floor_ns[name], floor_run)
        cage_out = subprocess.run(
            [sys.executable, "-m", "lind_async", "run", "--root", str(work), str(lua.cage),
             script.name, str(scale)],
            capture_output=True, text=True, check=True,
        )
        native_out = subprocess.run([str(lua.native), str(script), str(scale)],
                                    capture_output=True, text=True, check=True)
        (cage_sum, cage_run), (native_sum, native_run) = map(_parse, (cage_out.stdout,
                                                                       native_out.stdout))
        if cage_sum != native_sum or (floors and floor_sum != native_sum):
            raise RuntimeError(f"lua: checksums differ: cage {cage_sum}, native {native_sum}"
                               + (f", plain wasmtime {floor_sum}" if floors else ""))
        cage_ns, native_ns = min(cage_ns, cage_run), min(native_ns, native_run)
    ratio = cage_ns / native_ns
    if floors:
        plain = floor_ns["plain wasmtime, epochs on"] / native_ns
        floor = f"; the engine's floor, plain wasmtime with epochs: {plain:.2f}x"
    else:
        floor = "; no wasm32-wasi build, so no floor measured"
    return Figure("compute", metric, "ms CPU", cage_ns / 1e6,
                  [Baseline("native", native_ns / 1e6),
                   *(Baseline(name, ns / 1e6) for name, ns in floor_ns.items())],
                  note=target_note(f"<= {LUA_TARGET}x native ({ratio:.2f}x{floor})",
                                   ratio <= LUA_TARGET))


def collect(quick: bool, rounds: int | None = None, repeat: int = REPEAT) -> list[Figure]:
    """The compute loop and the memcpy loop three ways (M rounds/s), and real Lua vs native,
    each way the fastest of ``repeat`` turns."""
    n = rounds or (50_000_000 if quick else 500_000_000)
    m = max(1, n // 50)
    with tempfile.TemporaryDirectory(prefix="bench-compute-") as tmp:
        work = Path(tmp)
        rate = three_ways(PROGRAM, n, work, repeat)
        copy_rate = three_ways(MEMCPY_PROGRAM, m, work, repeat)
        lua = lua_figure(quick, work, repeat)
    vs_plain = rate["cage"] / rate["plain wasmtime"]
    return [
        Figure("compute", f"integer+FP loop, {n:,} rounds", "M rounds/s", rate["cage"],
               [Baseline(k, v) for k, v in rate.items() if k != "cage"], better="higher",
               note=target_note(f">= {COMPUTE_TARGET}x plain wasmtime ({vs_plain:.2f}x)",
                                vs_plain >= COMPUTE_TARGET)),
        Figure("compute", f"memcpy/memmove/memset/strlen, {m:,} rounds", "M rounds/s",
               copy_rate["cage"], [Baseline(k, v) for k, v in copy_rate.items() if k != "cage"],
               better="higher"),
        lua,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int,
                        help="compute loop rounds (default 5e8, --quick 5e7; the memcpy loop "
                        "runs 1/50 of them)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=REPEAT,
                        help=f"runs of each way, taking turns; the fastest counts (default "
                        f"{REPEAT})")
    opts = parser.parse_args(argv)
    print(format_table(collect(opts.quick, opts.rounds, opts.repeat)))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
