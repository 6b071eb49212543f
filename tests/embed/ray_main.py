"""The Ray backend's test scenarios, run in a process of their own by test_pool_ray.py.

    python -m tests.embed.ray_main OUT.json

Ray's driver installs fatal-signal handlers over wasmtime's (its core library does, at
``ray.init``, and they stay after ``ray.shutdown``), so a wasm trap in a microvisor of the test
process would kill it: everything that touches Ray runs here instead, under one
``ray.init(num_cpus=2)``, and writes what it saw as JSON for the tests to judge.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import ray

import lind_async
from lind_async.toolchain.cc import compile_cached

PROGRAMS = Path(__file__).parent / "programs"
INPUTS = [b"cage number %d\n" % i for i in range(4)]


async def _started(proc: lind_async.PoolProcess) -> None:
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"ready\n"


async def basics(root: Path) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with lind_async.Pool(workers=2, root=root, backend="ray") as pool:
        upper = PROGRAMS / "echo_upper.c"  # compiled here, sent to each node once by hash
        procs = [
            await pool.create_cage_exec(upper, "3", stdin=lind_async.PIPE,
                                        stdout=lind_async.PIPE, stderr=lind_async.PIPE)
            for _ in INPUTS
        ]
        seen["workers"] = sorted({p.worker for p in procs})
        outs = [await p.communicate(data) for p, data in zip(procs, INPUTS, strict=True)]
        seen["outputs"] = [[o.decode(), e.decode(), p.returncode]  # type: ignore[union-attr]
                           for (o, e), p in zip(outs, procs, strict=True)]
        waiter = compile_cached(PROGRAMS / "waiter.c")
        proc = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
        await _started(proc)
        proc.send_signal(signal.SIGUSR1)
        out, _ = await proc.communicate()
        seen["signal"] = [out.decode(), proc.returncode]  # type: ignore[union-attr]
        proc = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
        await _started(proc)
        with anyio.move_on_after(0.2):  # a cancelled wait kills it
            await proc.wait()
        seen["cancelled"] = await proc.wait()
        trap = await pool.create_cage_exec(PROGRAMS / "trap.c", stderr=lind_async.DEVNULL)
        seen["trap"] = await trap.wait()  # the cage's crash, not the actor's
        errors = []
        for make in (lambda: pool.create_cage_exec(upper, stdout=1),
                     lambda: pool.create_cage_exec(root / "missing.wasm")):
            try:
                await make()
            except Exception as exc:
                errors.append(type(exc).__name__)
        seen["errors"] = errors
    return seen


async def lost_actor(root: Path) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    waiter = compile_cached(PROGRAMS / "waiter.c")
    async with lind_async.Pool(workers=2, root=root, backend="ray") as pool:
        a = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
        b = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
        seen["different"] = a.worker != b.worker
        await _started(a)
        await _started(b)
        lost = pool._slots[a.worker]
        assert lost is not None
        ray.kill(lost.link.actor)  # type: ignore[attr-defined]
        seen["lost"] = [await a.wait(), type(a.error).__name__]
        seen["other_running"] = b.returncode is None
        b.send_signal(signal.SIGUSR1)
        out, _ = await b.communicate()
        seen["other"] = [out.decode(), b.returncode]  # type: ignore[union-attr]
        with anyio.fail_after(60):  # replaced by a new actor
            while not all(w["ready"] for w in pool.stats()["workers"]):
                await anyio.sleep(0.05)
        again = await pool.create_cage_exec(PROGRAMS / "echo_upper.c", stdin=lind_async.PIPE,
                                            stdout=lind_async.PIPE)
        seen["again"] = (await again.communicate(b"ok\n"))[0].decode()  # type: ignore[union-attr]
    return seen


def main(argv: list[str]) -> int:
    out, root = Path(argv[0]), Path(argv[1])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results: dict[str, Any] = {}
    try:
        for name, backend, options in (("asyncio", "asyncio", {}),
                                       ("uvloop", "asyncio", {"use_uvloop": True}),
                                       ("trio", "trio", {})):
            results[f"basics-{name}"] = anyio.run(basics, root, backend=backend,
                                                  backend_options=options)
        results["lost_actor"] = anyio.run(lost_actor, root)
    finally:
        ray.shutdown()
        out.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
