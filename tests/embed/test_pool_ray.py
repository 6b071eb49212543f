"""lind_async.Pool(backend="ray"): the local pool's tests that apply, on a local Ray instance.

One ``ray.init(num_cpus=2)`` serves the whole session (starting Ray takes seconds); at its end
``ray.shutdown()`` must leave no Ray process behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import lind_async
from tests.embed.conftest import PROGRAMS, Build, Runner

ray = pytest.importorskip("ray")


def _ray_processes() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if ("ray::" in cmd or "raylet" in cmd or "gcs_server" in cmd) and int(pid) != os.getpid():
            found.append(f"{pid} {cmd[:80]}")
    return found


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    deadline = time.monotonic() + 10  # Ray's processes exit on their own after the shutdown
    while _ray_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ray_processes() == []


@pytest.fixture(scope="module")
def native_upper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("a native C compiler (gcc) is required for the comparison tests")
    exe = tmp_path_factory.mktemp("native") / "echo_upper"
    subprocess.run([gcc, "-O1", "-o", str(exe), str(PROGRAMS / "echo_upper.c")], check=True)
    return exe


async def _started(proc: lind_async.PoolProcess) -> None:
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"ready\n"


def test_ray_pool_runs_cages(
    local_ray: None, run: Runner, program: Build, root: Path, native_upper: Path
) -> None:
    inputs = [b"cage number %d\n" % i for i in range(4)]
    natives = [subprocess.run([str(native_upper), "3"], input=data, capture_output=True)
               for data in inputs]
    expected = [(n.stdout, n.stderr, n.returncode) for n in natives]

    async def main() -> None:
        async with lind_async.Pool(workers=2, root=root, backend="ray") as pool:
            upper = PROGRAMS / "echo_upper.c"  # compiled here, sent to each node once by hash
            procs = [
                await pool.create_cage_exec(upper, "3", stdin=lind_async.PIPE,
                                            stdout=lind_async.PIPE, stderr=lind_async.PIPE)
                for _ in inputs
            ]
            assert {p.worker for p in procs} == {0, 1}
            outs = [await p.communicate(data) for p, data in zip(procs, inputs, strict=True)]
            got = [(o, e, p.returncode) for (o, e), p in zip(outs, procs, strict=True)]
            assert got == expected

            proc = await pool.create_cage_exec(program("waiter"), stdout=lind_async.PIPE)
            await _started(proc)
            proc.send_signal(signal.SIGUSR1)
            out, _ = await proc.communicate()
            assert out == b"got signal %d\n" % signal.SIGUSR1 and proc.returncode == 5

            proc = await pool.create_cage_exec(program("waiter"), stdout=lind_async.PIPE)
            await _started(proc)
            with anyio.move_on_after(0.2):  # a cancelled wait kills it
                await proc.wait()
            assert await proc.wait() == -signal.SIGKILL

            with pytest.raises(ValueError, match="remote worker"):
                await pool.create_cage_exec(upper, stdout=1)
            with pytest.raises(FileNotFoundError):
                await pool.create_cage_exec(root / "missing.wasm")

    run(main)


def test_a_lost_actor_fails_only_its_cages(local_ray: None, program: Build, root: Path) -> None:
    waiter = program("waiter")

    async def main() -> None:
        async with lind_async.Pool(workers=2, root=root, backend="ray") as pool:
            a = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
            b = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
            assert a.worker != b.worker
            await _started(a)
            await _started(b)
            lost = pool._slots[a.worker]
            assert lost is not None
            ray.kill(lost.link.actor)  # type: ignore[attr-defined]
            assert await a.wait() == -signal.SIGKILL
            assert isinstance(a.error, lind_async.WorkerLost)
            assert b.returncode is None
            b.send_signal(signal.SIGUSR1)
            assert (await b.communicate())[0] == b"got signal %d\n" % signal.SIGUSR1
            with anyio.fail_after(60):  # replaced by a new actor
                while not all(w["ready"] for w in pool.stats()["workers"]):
                    await anyio.sleep(0.05)
            again = await pool.create_cage_exec(program("echo_upper"), stdin=lind_async.PIPE,
                                                stdout=lind_async.PIPE)
            assert (await again.communicate(b"ok\n"))[0] == b"OK\n"

    anyio.run(main)
