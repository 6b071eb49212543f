"""Limits per cage: fds (EMFILE), children (EAGAIN), memory (malloc fails), cpu_time (SIGXCPU)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import anyio
import pytest

import lind_async
from tests.embed.conftest import Build, Runner


async def output(mv: lind_async.Microvisor, prog: Path, limits: lind_async.Limits) -> bytes:
    proc = await mv.create_cage_exec(prog, stdout=lind_async.PIPE, limits=limits)
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    assert out is not None
    return out


def test_fd_limit(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            out = await output(mv, program("limit_fds"), lind_async.Limits(fds=8))
            assert out == b"opened 5 more, then EMFILE\n"  # 0, 1, 2 are stdio

    run(main)


def test_children_limit(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            out = await output(mv, program("limit_children"), lind_async.Limits(children=3))
            assert out == b"started 3 children, then EAGAIN\n"
            out = await output(mv, program("limit_children"), lind_async.Limits())
            assert out == b"started 50 children, then no error\n"

    run(main)


def test_memory_limit(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            out = await output(mv, program("limit_memory"), lind_async.Limits(memory=16 << 20))
            assert out.startswith(b"malloc failed after ")
            got = int(out.split()[3])
            assert 4 <= got < 16, out  # the rest of the 16 MiB is the program's stack and data
            out = await output(mv, program("limit_memory"), lind_async.Limits())
            assert out == b"no failure after 64 MiB\n"

    run(main)


def test_memory_limit_below_the_program_image(
    run: Runner, program: Build, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            proc = await mv.create_cage_exec(
                program("limit_memory"), limits=lind_async.Limits(memory=64 << 10)
            )
            assert await proc.wait() == -signal.SIGSEGV

    run(main)
    assert "memory limit of 65536 bytes is below the program's" in capfd.readouterr().err


def test_cpu_time_limit(run: Runner, program: Build, root: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            started = time.perf_counter()
            proc = await mv.create_cage_exec(
                program("spin_forever"),
                stdout=lind_async.PIPE,
                limits=lind_async.Limits(cpu_time=0.3),
            )
            out, _ = await proc.communicate()
            took = time.perf_counter() - started
            assert out == b"spinning\n"
            assert proc.returncode == -signal.SIGXCPU
            assert 0.25 < took < 5, took
            # a cage that sleeps is not charged for the time it waits
            proc = await mv.create_cage_exec(
                program("waiter"), stdout=lind_async.PIPE, limits=lind_async.Limits(cpu_time=0.05)
            )
            assert proc.stdout is not None
            assert await proc.stdout.readline() == b"ready\n"
            await anyio.sleep(0.3)  # six times its budget, asleep in pause()
            proc.send_signal(signal.SIGUSR1)
            assert await proc.wait() == 5

    run(main)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="fds"):
        lind_async.Limits(fds=2)
    with pytest.raises(ValueError, match="memory"):
        lind_async.Limits(memory=100)
    with pytest.raises(ValueError, match="cpu_time"):
        lind_async.Limits(cpu_time=0)
    with pytest.raises(ValueError, match="children"):
        lind_async.Limits(children=-1)
