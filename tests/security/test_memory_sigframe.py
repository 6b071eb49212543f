"""A signal whose handler frame cannot be set up (the memory map is full, so there is no room
for the signal stack a handler delivered at a preemption point needs) kills that cage with SIGSEGV,
as Linux does when it cannot write a frame; it was an internal error (SIGSYS, a traceback in the
microvisor). A handler delivered when a call returns runs on the main stack and needs no room.
The neighbour in the same microvisor runs on."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import lind_async
from tests.security.conftest import assert_contained, run_cage
from tests.security.memory_helpers import Neighbour, microvisor_log


def test_full_vmmap_handler_at_a_call_runs(attack_program: Any, tmp_path: Path) -> None:
    result = run_cage(attack_program("mem_sigframe"), ["raise"], root=tmp_path)
    assert_contained(result)
    assert result.status == 0, result.stderr
    assert result.stdout.endswith(b"handler ran: 10\n")


def test_full_vmmap_signal_is_sigsegv(attack_program: Any, tmp_path: Path) -> None:
    result = run_cage(attack_program("mem_sigframe"), ["spin"], root=tmp_path)
    assert_contained(result)
    assert result.status == 128 + signal.SIGSEGV, result.stderr
    assert result.stdout.startswith(b"mapped ")
    assert b"handler ran" not in result.stdout


def test_full_vmmap_signal_spares_the_neighbour(attack_program: Any, tmp_path: Path) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=tmp_path) as mv:
            neighbour = await Neighbour.start(mv, attack_program("mem_neighbour"))
            attacker = await mv.create_cage_exec(attack_program("mem_sigframe"), "spin",
                                                 stdout=lind_async.PIPE)
            out, _ = await attacker.communicate(None)
            assert attacker.returncode == -signal.SIGSEGV
            assert out is not None and out.startswith(b"mapped ")
            await neighbour.finish()

    with microvisor_log() as log:
        asyncio.run(main())
    assert not [line for line in log if "internal error" in line], log


def test_full_vmmap_fork_is_enomem(attack_program: Any, tmp_path: Path) -> None:
    result = run_cage(attack_program("mem_fullfork"), [], root=tmp_path)
    assert_contained(result)
    assert result.stdout.decode() == "fork: -1 Out of memory status 0\n", result.stderr
    assert result.status == 0
