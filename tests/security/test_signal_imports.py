"""The imports through which libc runs a signal handler on its own stack, called out of turn by a
hostile program: each answers an errno and the cage carries on (no trap, no internal error)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.security.conftest import assert_contained, run_cage


def test_signal_imports_called_out_of_turn(attack_program: Any, tmp_path: Path) -> None:
    result = run_cage(attack_program("signal_imports"), [], root=tmp_path)
    assert_contained(result)
    assert result.stdout.decode() == (
        "frame with none pending: -22\n"
        "return with none pending: -22\n"
        "raise: 0\n"
        "in handler: bad frame -14, second return -22\n"
        "again: 0, pid ok 1\n"
    )
    assert result.status == 0
    assert b"Warning" not in result.stderr
