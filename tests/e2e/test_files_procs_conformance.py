"""POSIX conformance, files and processes: C programs (``programs/fp_*.c``) compared with the same
sources built natively, plus the cage-only checks where the native answer is host-specific."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from lind_async.runtime.cage import Cage
from lind_async.runtime.engine import EngineConfig
from lind_async.runtime.microvisor import Microvisor, default_cache_dir
from tests.e2e.conftest import MatchesNative

COMPARED = ["fp_rw", "fp_truncate", "fp_wait"]


@pytest.mark.parametrize("name", COMPARED)
def test_matches_native(name: str, matches_native: MatchesNative) -> None:
    matches_native(name, "plain", quiet=True)


def test_vectored_positional_calls_through_a_grate(matches_native: MatchesNative) -> None:
    matches_native("fp_rw", "py-passthrough", quiet=True)


def test_exec_every_way_and_cloexec(matches_native: MatchesNative) -> None:
    matches_native("fp_exec", "plain", extras=["fp_exec"], env={"PATH": "."}, quiet=True)


def test_exec_that_cannot_start_the_new_program_says_so(
    cage_program: Any, root: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the point of no return (the old image is gone) a new program that cannot start ends
    the cage with SIGSEGV, as Linux does, and the microvisor names the cage and the cause."""
    wasm = cage_program("fp_exec")
    shutil.copyfile(wasm, root / "fp_exec")
    (root / "fp_exec").chmod(0o755)
    real = Cage._start_instance
    started: list[int] = []

    async def start(self: Cage) -> Any:
        started.append(self.cage_id)
        if len(started) > 1:  # the exec of the first cage's child
            raise RuntimeError("no room for the new image")
        return await real(self)

    monkeypatch.setattr(Cage, "_start_instance", start)

    async def main() -> int:
        config = EngineConfig(cache_dir=default_cache_dir() / "modules")
        async with Microvisor(root=root, engine_config=config) as mv:
            return await mv.run(wasm, ["fp_exec"])

    status = asyncio.run(main())
    captured = capfd.readouterr()
    assert status == 0, captured.err
    assert "relative path: killed by 11" in captured.out
    lines = [line for line in captured.err.splitlines() if "execve" in line]
    assert lines and "could not start: no room for the new image" in lines[0], captured.err
    assert f"cage {started[1]} (" in lines[0]
    assert "Traceback" not in captured.err
