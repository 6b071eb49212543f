"""Regression tests for what the hostile fuzzer (``test_fuzz.py``) found, each reduced to a
minimal program (``programs/fuzz_*.c``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.security.conftest import assert_contained, run_cage


def test_sigkill_to_itself_ends_the_cage_at_that_call(attack_program: Any, tmp_path: Path) -> None:
    # kill(getpid(), SIGKILL) returned 0 and the program ran on (to exit 0 if it never waited).
    result = run_cage(attack_program("fuzz_selfkill"), [], root=tmp_path)
    assert_contained(result)
    assert result.stdout.decode() == (
        "pid: killed by 9\ngroup: killed by 9\nthread: killed by 9\nthreei: killed by 9\n"
    )
    assert result.status == 0


def test_execve_of_a_fifo_is_eacces_and_does_not_block(attack_program: Any, tmp_path: Path) -> None:
    # It opened the FIFO blocking, on the event loop: the whole microvisor waited for a writer.
    result = run_cage(attack_program("fuzz_exec_fifo"), [], root=tmp_path, timeout=30)
    assert_contained(result)
    assert result.stdout.decode() == "execve: -1 Permission denied\n"
    assert result.status == 0


def test_a_route_to_a_cage_that_cannot_serve_is_refused(
    attack_program: Any, tmp_path: Path
) -> None:
    # register_handler(self, SYS_getpid, self, 1) in a program that is no grate was accepted;
    # the next getpid was an internal error of the grate pool (a missing pass_fptr_to_wt).
    result = run_cage(attack_program("fuzz_not_a_grate"), [], root=tmp_path)
    assert_contained(result)
    assert result.stdout.decode() == (
        "route to a non-grate: Invalid argument\n"
        "getpid still works: ok\n"
        "copy into a new child: ok\n"
        "copy into a reaped child: No such process\n"
    )
    assert result.status == 0
