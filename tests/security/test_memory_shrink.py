"""A file shrunk under a MAP_SHARED mapping, then touched: the host raises SIGBUS in the
microvisor's process, which used to kill every cage. Now it is the toucher's own SIGBUS
(memory/faults.py), whoever shrank the file — the cage itself through a route RawPOSIX does not
see (``/dev/fd``, ``/proc/self/fd``), another cage, a host process — and whether the touch is wasm
code or the microvisor copying the page for a system call. Neighbours run on."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import lind_async
from tests.security.conftest import REPO, Result, assert_contained, run_cage
from tests.security.memory_helpers import Neighbour, microvisor_log

SIGBUS = 128 + signal.SIGBUS


@pytest.mark.parametrize(("how", "touch"), [
    ("devfd", "read"), ("procfd", "write"), ("devfd", "pipe"), ("procfd", "read")])
def test_shrink_through_a_view_is_the_cages_sigbus(
    how: str, touch: str, attack_program: Any, tmp_path: Path
) -> None:
    result = run_cage(attack_program("mem_shrink"), ["map", how, touch, "plain"], root=tmp_path)
    assert_contained(result)
    assert (result.status, result.stdout) == (SIGBUS, b"mapped a\n"), result.stderr


@pytest.mark.parametrize(("sig", "expected"), [
    ("handler", (0, b"mapped a\ntouched 0 handled 7\n")),  # the handler runs, the page is zero
    ("blocked", (SIGBUS, b"mapped a\n")),  # a fault cannot be blocked away (Linux forces it)
    ("ignored", (SIGBUS, b"mapped a\n")),  # ... nor ignored
    ("fork", (0, b"mapped a\nchild killed by 7\n")),  # a fork child's mapping is guarded too
])
def test_sigbus_dispositions(
    sig: str, expected: tuple[int, bytes], attack_program: Any, tmp_path: Path
) -> None:
    result = run_cage(attack_program("mem_shrink"), ["map", "devfd", "read", sig], root=tmp_path)
    assert_contained(result)
    assert (result.status, result.stdout) == expected, result.stderr


def test_a_write_to_a_host_file_from_the_page_is_efault(
    attack_program: Any, tmp_path: Path
) -> None:
    """The host kernel copies the page itself: EFAULT, no signal (as Linux)."""
    result = run_cage(attack_program("mem_shrink"), ["map", "devfd", "file", "plain"],
                      root=tmp_path)
    assert_contained(result)
    assert (result.status, result.stdout) == (0, b"mapped a\ntouched -1 handled 0\n")


def test_host_truncation_under_the_cli(attack_program: Any, tmp_path: Path) -> None:
    """A host process truncates the file while the cage waits between map and touch."""
    cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(tmp_path),
           str(attack_program("mem_shrink")), "map", "wait", "read", "plain"]
    with subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline() == b"mapped a\n"
        os.truncate(tmp_path / "victim.dat", 0)
        out, err = proc.communicate(b"go\n", timeout=60)
    result = Result(proc.returncode, out, err)
    assert_contained(result)
    assert (result.status, result.stdout) == (SIGBUS, b""), err  # the cage's status, not ours


def _victim_dies_neighbour_lives(root: Path, attack_program: Any, shrink: str) -> None:
    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            neighbour = await Neighbour.start(mv, attack_program("mem_neighbour"))
            wasm = attack_program("mem_shrink")
            victim = await mv.create_cage_exec(wasm, "map", "wait", "read", "plain",
                                               stdin=lind_async.PIPE, stdout=lind_async.PIPE)
            assert victim.stdout is not None and victim.stdin is not None
            assert await victim.stdout.readline() == b"mapped a\n"
            if shrink == "host":
                os.truncate(root / "victim.dat", 0)
            else:  # another cage shrinks it through a route RawPOSIX does not see
                shrinker = await mv.create_cage_exec(wasm, "shrink", shrink,
                                                     stdout=lind_async.PIPE)
                assert await shrinker.communicate(None) == (b"shrunk\n", None)
                assert shrinker.returncode == 0
            await neighbour.check()
            out, _ = await victim.communicate(b"go\n")
            assert (victim.returncode, out) == (-signal.SIGBUS, b"")
            await neighbour.finish()

    with microvisor_log() as log:
        asyncio.run(main())
    assert not [line for line in log if "internal error" in line], log


def test_host_truncation_spares_the_neighbour(attack_program: Any, tmp_path: Path) -> None:
    _victim_dies_neighbour_lives(tmp_path, attack_program, "host")


def test_another_cages_shrink_spares_the_neighbour(attack_program: Any, tmp_path: Path) -> None:
    _victim_dies_neighbour_lives(tmp_path, attack_program, "devfd")
