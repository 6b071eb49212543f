"""Cage start-up and footprint through the embedding API, beside OS processes and node:wasi.

    python -m benchmarks.bench_cages [--quick]

All in this process, on one uvloop loop:

1. start latency: ``create_cage_exec`` of ``programs/exit0.c`` (module already cached) and
   ``wait()``, one at a time, vs ``asyncio.create_subprocess_exec`` of the same program built
   with gcc, vs ``node`` running it built for wasm32-wasi under ``node:wasi`` (a whole node
   process per run: what "run a wasm program in a fresh sandbox" costs with node; skipped, with
   a message, when ``node`` is not on PATH);
2. spawn rate: N started at once and all reaped, per second (cages vs processes);
3. memory per idle cage: N cages of ``programs/idle_read.c`` blocked reading a PIPE stdin; the
   growth of this process's RSS divided by N, with N = 1,000 and 10,000 (``--quick``: 100 and
   1,000), vs the RSS of one such native process. (RSS counts shared pages of a process in full,
   so the native figure is an upper bound of its real cost; the cages' delta is exact.)
   The idle cages are linked with ``--max-memory 16M`` and run in a microvisor reserving 32 MiB
   of address space per cage, so 10,000 of them fit in the address space.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import Baseline, Figure, format_table, log

HERE = Path(__file__).parent
EXIT0 = HERE / "programs" / "exit0.c"
IDLE = HERE / "programs" / "idle_read.c"
NODE_WASI = """
const { WASI } = require('node:wasi');
const fs = require('fs');
const wasi = new WASI({ version: 'preview1', args: [], env: {} });
const mod = new WebAssembly.Module(fs.readFileSync(process.argv[2]));
const inst = new WebAssembly.Instance(mod, { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(inst);
"""


def _rss_kib(pid: str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _build_native(source: Path, work: Path) -> Path:
    exe = work / source.stem
    subprocess.run([shutil.which("gcc") or "cc", "-O2", "-o", str(exe), str(source)], check=True)
    return exe


async def _proc_run(exe: Path) -> None:
    proc = await asyncio.create_subprocess_exec(str(exe))
    if await proc.wait() != 0:
        raise RuntimeError(f"{exe} failed")


async def _start_latency(n: int, work: Path, exe: Path) -> Figure:
    import lind_async

    async with lind_async.Microvisor(root=work) as mv:
        module = await mv.load(EXIT0)

        async def one() -> None:
            proc = await mv.create_cage_exec(module, stdout=lind_async.DEVNULL)
            if await proc.wait() != 0:
                raise RuntimeError("exit0 cage failed")

        await one()  # warm up
        start = time.perf_counter()
        for _ in range(n):
            await one()
        cage_ms = (time.perf_counter() - start) / n * 1e3
    await _proc_run(exe)
    start = time.perf_counter()
    for _ in range(n):
        await _proc_run(exe)
    proc_ms = (time.perf_counter() - start) / n * 1e3
    baselines = [Baseline("process (gcc)", proc_ms)]
    node = shutil.which("node")
    if node is None:
        log("bench_cages: node is not on PATH: the node:wasi baseline is skipped")
    else:
        baselines.append(Baseline("node:wasi process", await _node_ms(node, max(3, n // 10),
                                                                      work)))
    return Figure("cages", "start to exit (cached module)", "ms", cage_ms, baselines)


async def _node_ms(node: str, n: int, work: Path) -> float:
    from lind_async.toolchain.zig import zig

    wasm = work / "exit0_wasi.wasm"
    subprocess.run(zig("cc", "-target", "wasm32-wasi", "-O2", "-o", str(wasm), str(EXIT0)),
                   check=True)
    script = work / "run_wasi.js"
    script.write_text(NODE_WASI)

    async def one() -> None:
        proc = await asyncio.create_subprocess_exec(node, "--no-warnings", str(script), str(wasm))
        if await proc.wait() != 0:
            raise RuntimeError("node:wasi run failed")

    await one()
    start = time.perf_counter()
    for _ in range(n):
        await one()
    return (time.perf_counter() - start) / n * 1e3


async def _spawn_rate(n: int, work: Path, exe: Path) -> Figure:
    import lind_async

    async with lind_async.Microvisor(root=work) as mv:
        module = await mv.load(EXIT0)

        async def one() -> None:
            proc = await mv.create_cage_exec(module, stdout=lind_async.DEVNULL)
            if await proc.wait() != 0:
                raise RuntimeError("exit0 cage failed")

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        cages = n / (time.perf_counter() - start)
    start = time.perf_counter()
    await asyncio.gather(*(_proc_run(exe) for _ in range(n)))
    procs = n / (time.perf_counter() - start)
    return Figure("cages", f"{n:,} spawned at once, reaped", "per s", cages,
                  [Baseline("process (gcc)", procs)], better="higher")


async def _idle_memory(counts: tuple[int, ...], work: Path) -> list[Figure]:
    import lind_async
    from lind_async.toolchain.cc import compile_program

    idle = compile_program([IDLE], work / "idle_read.wasm", stack_size=64 << 10,
                           max_memory=16 << 20)
    native_exe = _build_native(IDLE, work)
    proc = await asyncio.create_subprocess_exec(str(native_exe), stdin=asyncio.subprocess.PIPE)
    await asyncio.sleep(0.3)
    native_kib = _rss_kib(str(proc.pid))
    assert proc.stdin is not None
    proc.stdin.close()
    await proc.wait()
    figures = []
    async with lind_async.Microvisor(root=work, memory_reservation=32 << 20) as mv:
        module = await mv.load(idle)
        # One cage first, not counted: what any first cage loads once (a RawPOSIX family on its
        # first call, the engine's first instance) is not a cost per cage.
        first = await mv.create_cage_exec(module, stdin=lind_async.PIPE)
        await asyncio.sleep(0.3)
        assert first.stdin is not None
        first.stdin.close()
        await first.wait()
        for n in counts:
            before = _rss_kib()
            procs = [await mv.create_cage_exec(module, stdin=lind_async.PIPE) for _ in range(n)]
            await asyncio.sleep(0.5 + n / 5000)  # let every cage reach its read()
            if any(p.returncode is not None for p in procs):
                raise RuntimeError("an idle cage exited early")
            per_cage = (_rss_kib() - before) / n
            for p in procs:
                assert p.stdin is not None
                p.stdin.close()
            await asyncio.gather(*(p.wait() for p in procs))
            figures.append(Figure("cages", f"RSS per idle cage, {n:,} cages", "KiB", per_cage,
                                  [Baseline("native process RSS", float(native_kib))]))
    return figures


async def _all(quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-cages-") as tmp:
        work = Path(tmp)
        exe = _build_native(EXIT0, work)
        figures = [await _start_latency(20 if quick else 200, work, exe)]
        figures.append(await _spawn_rate(100 if quick else 1000, work, exe))
        figures += await _idle_memory((100, 1000) if quick else (1000, 10_000), work)
        return figures


def collect(quick: bool) -> list[Figure]:
    """Start latency, spawn rate and idle memory of cages vs processes (and node:wasi)."""
    import uvloop

    return uvloop.run(_all(quick))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and cages")
    opts = parser.parse_args(argv)
    print(format_table(collect(opts.quick)))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
