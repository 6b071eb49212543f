"""lind_async.Pool: cages on worker processes, on asyncio, uvloop and trio.

The same C programs as the embedding tests, run through a pool of two workers and compared with
the same source built natively by gcc; a worker killed with SIGKILL fails only its own cages and
is replaced; closing the pool leaves no process, fd or temporary file behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import anyio
import pytest

import lind_async
from lind_async.pool import wire
from tests.embed.conftest import PROGRAMS, Build, Runner, open_fds


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def _started(proc: lind_async.PoolProcess) -> None:
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    while line == b"child started\n":
        line = await proc.stdout.readline()
    assert line == b"ready\n"


def test_pool_runs_cages_like_a_microvisor(
    run: Runner, program: Build, root: Path, native_upper: Path, tmp_path: Path
) -> None:
    upper = program("echo_upper")
    inputs = [b"cage number %d\n" % i for i in range(8)]
    natives = [subprocess.run([str(native_upper), "3"], input=data, capture_output=True)
               for data in inputs]
    expected = [(n.stdout, n.stderr, n.returncode) for n in natives]
    run(lambda: anyio.run_process(["true"]))  # uvloop keeps a pipe from its first child on
    before = open_fds()

    async def main() -> None:
        async with lind_async.Pool(workers=2, root=root) as pool:
            procs = [
                await pool.create_cage_exec(upper, "3", stdin=lind_async.PIPE,
                                            stdout=lind_async.PIPE, stderr=lind_async.PIPE)
                for _ in inputs
            ]
            assert {p.worker for p in procs} == {0, 1}  # spread over both workers
            outs = [await p.communicate(data) for p, data in zip(procs, inputs, strict=True)]
            got = [(o, e, p.returncode) for (o, e), p in zip(outs, procs, strict=True)]
            assert got == expected

            # signals, as CageProcess
            waiter = program("waiter")
            proc = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
            await _started(proc)
            proc.terminate()
            assert await proc.wait() == -signal.SIGTERM
            with pytest.raises(ProcessLookupError):
                proc.kill()
            proc = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
            await _started(proc)
            proc.send_signal(signal.SIGUSR1)
            out, _ = await proc.communicate()
            assert out == b"got signal %d\n" % signal.SIGUSR1 and proc.returncode == 5

            # a host file as stdout travels to the worker as an fd
            with open(tmp_path / "out.txt", "wb") as f:
                proc = await pool.create_cage_exec(upper, stdin=lind_async.PIPE, stdout=f)
                await proc.communicate(b"to a file\n")
            assert (tmp_path / "out.txt").read_bytes() == b"TO A FILE\n"

            # a cancelled wait kills the cage and the child it forked
            proc = await pool.create_cage_exec(waiter, "fork", stdout=lind_async.PIPE)
            await _started(proc)
            with anyio.move_on_after(0.2):
                await proc.wait()
            assert proc.returncode is None or proc.returncode == -signal.SIGKILL
            assert await proc.wait() == -signal.SIGKILL

            # compiled once, shared through the on-disk cache
            module = await pool.load(PROGRAMS / "echo_upper.c")
            procs = [await pool.create_cage_exec(module, stdin=lind_async.PIPE,
                                                 stdout=lind_async.PIPE) for _ in range(2)]
            assert [(await p.communicate(b"ab\n"))[0] for p in procs] == [b"AB\n", b"AB\n"]

            # Python grates travel pickled (one copy per cage); one that cannot is refused here
            proc = await pool.create_cage_exec(
                upper, stdin=lind_async.PIPE, stdout=lind_async.PIPE,
                grates=[lind_async.load_grate("namespace:/tmp=memfs")])
            assert (await proc.communicate(b"grated\n"))[0] == b"GRATED\n"
            with pytest.raises(TypeError, match="pickle"):
                await pool.create_cage_exec(upper, grates=[lind_async.load_grate("strace")])

            with pytest.raises(FileNotFoundError):
                await pool.create_cage_exec(root / "missing.wasm")
            with pytest.raises(ValueError):
                await pool.create_cage_exec(upper, stdin=-7)
            with pytest.raises(ValueError):
                await pool.create_cage_exec(upper, stdout=lind_async.PIPE, limit=0)
            with pytest.raises(TypeError):
                await pool.create_cage_exec(object())  # type: ignore[arg-type]
            with pytest.raises(ValueError):
                await pool.create_cage_exec(upper, stdout=lind_async.STDOUT)

    run(main)
    assert open_fds() == before


def test_a_killed_worker_fails_only_its_cages(run: Runner, program: Build, root: Path) -> None:
    waiter = program("waiter")
    run(lambda: anyio.run_process(["true"]))  # uvloop keeps a pipe from its first child on
    before = open_fds()
    seen: dict[str, object] = {}

    async def main() -> None:
        async with lind_async.Pool(workers=2, root=root) as pool:
            a = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
            b = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
            assert a.worker != b.worker
            await _started(a)
            await _started(b)
            pids = {w["index"]: w["pid"] for w in pool.stats()["workers"]}
            seen["pids"] = list(pids.values())
            seen["tmp"] = pool._tmp
            os.kill(pids[a.worker], signal.SIGKILL)
            assert await a.wait() == -signal.SIGKILL
            assert isinstance(a.error, lind_async.WorkerLost)
            assert "killed by SIGKILL" in str(a.error)
            assert a.stdout is not None and await a.stdout.read() == b""
            assert b.returncode is None and b.error is None  # the other worker's cage runs on
            b.send_signal(signal.SIGUSR1)
            out, _ = await b.communicate()
            assert out == b"got signal %d\n" % signal.SIGUSR1 and b.returncode == 5
            with anyio.fail_after(60):  # replaced
                while not all(w["ready"] for w in pool.stats()["workers"]):
                    await anyio.sleep(0.05)
            new = {w["index"]: w["pid"] for w in pool.stats()["workers"]}
            assert new[a.worker] != pids[a.worker] and new[b.worker] == pids[b.worker]
            seen["pids"] = [*pids.values(), new[a.worker]]
            procs = [await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
                     for _ in range(2)]
            for p in procs:
                await _started(p)
            assert {p.worker for p in procs} == {0, 1}
            # left running: closing the pool kills them
        assert all(p.returncode == -signal.SIGKILL for p in procs)

    run(main)
    pids = seen["pids"]
    assert isinstance(pids, list)
    assert not [pid for pid in pids if _alive(pid)]
    assert isinstance(seen["tmp"], str) and not os.path.exists(seen["tmp"])
    assert open_fds() == before


def test_frames_from_a_worker_are_checked() -> None:
    parser = wire.Parser(wire.MAX_FROM_WORKER)
    frames = wire.frame(wire.ACK, 3, wire.UINT.pack(5)) + wire.frame(wire.OUTPUT, 3, b"\x01hi")
    got = list(parser.feed(frames[:5])) + list(parser.feed(frames[5:]))
    assert got == [(wire.ACK, 3, wire.UINT.pack(5)), (wire.OUTPUT, 3, b"\x01hi")]
    assert wire.check_from_worker(wire.EXIT, wire.EXIT_MSG.pack(-9, 1)) == (-9, True)
    assert wire.check_from_worker(wire.OUTPUT, b"\x02x") == (2, b"x")
    bad = [
        (wire.EXIT, b"\x00"),  # wrong size
        (wire.OUTPUT, b"\x07data"),  # no such stream
        (wire.OUTPUT, b""),
        (wire.READY, b"[1]"),  # not an object
        (wire.READY, b"\xff"),  # not UTF-8
        (wire.ERROR, b'{"type": 1, "message": "x"}'),
        (wire.SPAWN, b""),  # a pool-to-worker kind
        (200, b""),  # unknown
    ]
    for kind, payload in bad:
        with pytest.raises(wire.CorruptFrame):
            wire.check_from_worker(kind, payload)
    with pytest.raises(wire.CorruptFrame):  # longer than a worker may send
        list(wire.Parser(wire.MAX_FROM_WORKER).feed(wire.HEADER.pack(1 << 30, wire.OUTPUT, 1)))
    # an ERROR names a known builtin exception or becomes a RuntimeError, never anything else
    assert isinstance(wire.error_of({"type": "FileNotFoundError", "message": "m"}, "x"),
                      FileNotFoundError)
    assert type(wire.error_of({"type": "SystemExit", "message": "m"}, "x")) is RuntimeError


def test_a_corrupt_frame_fails_that_worker(program: Build, root: Path) -> None:
    """A worker that breaks the protocol is killed and replaced; the pool goes on."""
    waiter = program("waiter")

    async def main() -> None:
        async with lind_async.Pool(workers=1, root=root) as pool:
            proc = await pool.create_cage_exec(waiter, stdout=lind_async.PIPE)
            await _started(proc)
            worker = pool._slots[0]
            assert worker is not None
            # what a compromised worker might send: more output than it was given credit for
            pool._dispatch_bytes(worker, wire.frame(wire.OUTPUT, proc._channel,
                                                    b"\x01" + b"x" * (1 << 20)))
            assert await proc.wait() == -signal.SIGKILL
            assert "corrupt" in str(proc.error)
            with anyio.fail_after(60):
                while not pool.stats()["workers"][0]["ready"]:
                    await anyio.sleep(0.05)
            again = await pool.create_cage_exec(program("echo_upper"), stdin=lind_async.PIPE,
                                                stdout=lind_async.PIPE)
            assert (await again.communicate(b"ok\n"))[0] == b"OK\n"

    asyncio.run(main())


def test_workers_that_cannot_start(root: Path) -> None:
    """A worker that dies before it is ready is retried, then given up: start() raises and
    leaves nothing behind."""
    with pytest.raises(ValueError):
        lind_async.Pool(workers=1, time_slice=0)

    async def main() -> None:
        pool = lind_async.Pool(workers=1, root=root)
        pool._config["root"] = str(root / "missing")  # each worker's Microvisor refuses it
        with pytest.raises(RuntimeError, match="could not start"):
            async with pool:
                pass
        assert pool._tmp is not None and not os.path.exists(pool._tmp)

    asyncio.run(main())
