"""Leaving ``async with Microvisor(...)`` from a cancelled scope still closes it completely."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import anyio

import lind_async
from tests.embed.conftest import Build, Runner


def test_a_cancelled_scope_around_the_microvisor_still_kills_every_cage(
    run: Runner, program: Build, root: Path
) -> None:
    procs: list[lind_async.CageProcess] = []

    async def main() -> None:
        with anyio.CancelScope() as scope:  # as a timeout would, once both cages are ready
            async with lind_async.Microvisor(root=root) as mv:
                for _ in range(2):
                    proc = await mv.create_cage_exec(program("waiter"), stdout=lind_async.PIPE)
                    assert proc.stdout is not None
                    assert await proc.stdout.readline() == b"ready\n"
                    procs.append(proc)
                scope.cancel()
                await procs[0].wait()  # cancelled: kills the first cage
        assert scope.cancelled_caught
        # The close ran to its end although its caller was cancelled: the second cage, never
        # waited for, was killed by it, and under trio the runtime thread is gone.
        assert [p.returncode for p in procs] == [-signal.SIGKILL, -signal.SIGKILL]
        assert not any(t.name == "lind-runtime-loop" for t in threading.enumerate())

    run(main)
