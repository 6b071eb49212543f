"""Copy-on-write fork (memory/cow.py, runtime/fork.py): a C program with a large touched heap,
compared with its native build, and in-process runs that check the host side — every path of
a fork taken (the first fork, folding back, a layered child, its flattening), no snapshot
memfd, fd or mapping left once the cages are gone, and an exec right after fork copying
nothing."""

from __future__ import annotations

import collections
import gc
import os
from pathlib import Path
from typing import Any

import pytest

from lind_async.memory import cow
from tests.e2e.conftest import STACKS, MatchesNative, install
from tests.e2e.inprocess import run_in_world


@pytest.mark.parametrize("stack", STACKS)
def test_matches_native(stack: str, matches_native: MatchesNative) -> None:
    matches_native("fork_cow", stack)


def _snapshots() -> tuple[int, int]:
    """This process's snapshot memfds: (open fds, mapped ranges)."""
    fds = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds += "lind-linear-memory" in os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
    with open("/proc/self/maps") as f:
        maps = sum("lind-linear-memory" in line for line in f)
    return fds, maps



def test_every_path_taken_and_nothing_left(
    cage_program: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    install(cage_program("fork_cow"), tmp_path / "fork_cow")
    paths: collections.Counter[str] = collections.Counter()
    fork = cow.Backing.fork

    def counting(self: cow.Backing, *args: Any) -> cow.Backing:
        assert self.snap is not None
        paths["flatten" if self.patch is not None else "first" if self.owned
              else "fold" if self.snap.users == 1 else "layered"] += 1
        return fork(self, *args)

    def no_copy(*_: Any) -> int:
        raise AssertionError("a copy-on-write memory was copied page by page")

    monkeypatch.setattr(cow.Backing, "fork", counting)
    monkeypatch.setattr("lind_async.runtime.fork.copy_used", no_copy)
    gc.collect()  # earlier tests' garbage closes its fds now, not during the run
    fds_before = set(os.listdir("/proc/self/fd"))
    snapshots_before = _snapshots()
    status = run_in_world(tmp_path, tmp_path / "fork_cow", [])
    gc.collect()  # (a loaded module keeps its .cwasm open until collected)
    out = capfd.readouterr().out
    assert status == 0, out
    assert "WRONG" not in out, out
    assert all(paths[path] >= 1 for path in ("first", "fold", "layered", "flatten")), paths
    assert _snapshots() == snapshots_before  # this run's snapshots are all let go
    assert set(os.listdir("/proc/self/fd")) <= fds_before  # nothing new left open


def test_exec_after_fork_copies_nothing(
    cage_program: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """fork_exec's child execs at once: no page is written into any snapshot, and the child's
    snapshot is let go at the exec."""
    install(cage_program("fork_exec"), tmp_path / "fork_exec")
    install(cage_program("exec_target"), tmp_path / "exec_target")
    written: list[tuple[int, int]] = []
    fold = cow.Backing._fold

    def recording(self: cow.Backing, *args: Any) -> cow.Ranges:
        runs = fold(self, *args)
        written.extend(runs)
        return runs

    monkeypatch.setattr(cow.Backing, "_fold", recording)
    gc.collect()  # earlier tests' garbage closes its fds now, not during the run
    fds_before = set(os.listdir("/proc/self/fd"))
    snapshots_before = _snapshots()
    status = run_in_world(tmp_path, tmp_path / "fork_exec", [])
    gc.collect()
    out = capfd.readouterr().out
    assert status == 0, out
    assert "child exec'd and exited" in out
    assert written == []
    assert _snapshots() == snapshots_before  # this run's snapshots are all let go
    assert set(os.listdir("/proc/self/fd")) <= fds_before  # nothing new left open
