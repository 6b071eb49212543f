"""The hostile suite: attacks written as C programs (``programs/``), run in cages next to a
neighbour cage, each asserting that the attack is refused or contained.

A test here asserts three things where they apply: the attack's call got the refusal (an errno or
the cage's own death, never the microvisor's), no Python traceback or "internal error" reached
stderr, and a neighbour that shares the microvisor still works afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Result, run_cage

PROGRAMS = Path(__file__).parent / "programs"

__all__ = ["PROGRAMS", "REPO", "Result", "run_cage"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fresh, empty cage root."""
    r = tmp_path / "root"
    r.mkdir()
    return r


@pytest.fixture(scope="session")
def attack_program() -> object:
    """Compile ``tests/security/programs/NAME.c`` for a cage (cached by content)."""
    from lind_async.toolchain.cc import compile_cached

    def build(name: str, *, grate: bool = False) -> Path:
        return compile_cached(PROGRAMS / f"{name}.c", flags=["--grate"] if grate else ())

    return build


def assert_contained(result: Result) -> None:
    """Nothing escaped as a host failure: no traceback, no internal error, no host signal."""
    err = result.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    assert result.status >= 0, err
