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


def _leak_check(tmp_path: Path, program: str, cage_program: Any) -> tuple[int | None, bool]:
    """Run ``program`` in a fresh World; its status and whether every snapshot it made was let
    go (no ``lind-linear-memory`` fd or mapping left)."""
    install(cage_program(program), tmp_path / program)
    gc.collect()
    before = _snapshots()
    status = run_in_world(tmp_path, tmp_path / program, [])
    gc.collect()
    return status, _snapshots() == before


def test_child_failing_to_start_lets_its_snapshot_go(
    cage_program: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A fork child whose instance cannot be made (here: instantiation traps, as a kill or a
    host failure in the middle of it would end it) dies, and the snapshot mapped into its
    memory is let go with it; the parent collects it and runs on."""
    from lind_async.runtime import fork as fork_mod
    from lind_async.wasm.fiber import WasmTrap

    async def failing(*_: Any, **__: Any) -> Any:
        raise WasmTrap("instantiation failed (test)", None)

    monkeypatch.setattr(fork_mod, "instantiate", failing)
    status, clean = _leak_check(tmp_path, "fork_basic", cage_program)
    out = capfd.readouterr()
    assert status == 0, out
    assert "parent: child exited 0" in out.out  # (killed by the trap's signal, not exited)
    assert clean, "a fork child that never started left its snapshot open"


def test_cage_failing_after_instantiation_lets_its_snapshot_go(
    cage_program: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A forking program whose start fails after its module was instantiated, before its
    address space exists (here: reading ``__heap_base`` fails, as for a module that does not
    export it) leaves no snapshot behind. (The failure is a trap: one logged with its
    traceback would do as well, but the test's log capture keeps that traceback, and with it
    the memory and its mapping.)"""
    from lind_async.wasm.fiber import WasmTrap
    from lind_async.wasm.instance import LindInstance

    get_global = LindInstance.get_global

    def failing(self: LindInstance, name: str) -> int:
        if name == "__heap_base":
            raise WasmTrap("no __heap_base (test)", None)
        return get_global(self, name)

    monkeypatch.setattr(LindInstance, "get_global", failing)
    status, clean = _leak_check(tmp_path, "fork_basic", cage_program)
    capfd.readouterr()
    assert status != 0
    assert clean, "a cage that failed to start left its snapshot open"


@pytest.mark.parametrize("stack", STACKS)
def test_reused_instance_shows_no_earlier_child(stack: str, matches_native: MatchesNative) -> None:
    """fork_secret's children each leave secrets in a static, a thread-local, the heap, a new
    chunk, a new mapping and the stack pointer (exiting deep in the stack); each next child,
    which runs on the previous one's kept instance (wasm/instance_reuse.py), sees its parent's
    state only, as natively."""
    matches_native("fork_secret", stack)


def _count_takes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, for each fork child from now on, whether it took a kept instance."""
    from lind_async.wasm import instance_reuse

    taken: list[bool] = []
    take = instance_reuse.take

    def counting_take(*args: Any) -> Any:
        inst = take(*args)
        taken.append(inst is not None)
        return inst

    monkeypatch.setattr(instance_reuse, "take", counting_take)
    return taken


def test_children_run_on_kept_instances(
    cage_program: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A dead child's instance serves the next child (3 of fork_secret's 4), scrubbed: its
    memory all zeros while kept; the World's close lets every one go, and no snapshot stays."""
    from lind_async.wasm import instance_reuse

    install(cage_program("fork_secret"), tmp_path / "fork_secret")
    taken = _count_takes(monkeypatch)
    kept_zero: list[bool] = []
    keep = instance_reuse.keep

    def checking_keep(inst: Any) -> bool:
        done = keep(inst)
        if done:
            kept_zero.append(not any(inst.memory.view()))
        return done

    monkeypatch.setattr(instance_reuse, "keep", checking_keep)
    gc.collect()
    before = _snapshots()
    engines: list[Any] = []
    drop = instance_reuse.drop
    monkeypatch.setattr(instance_reuse, "drop",
                        lambda engine, imports=None: (engines.append(engine),
                                                      drop(engine, imports))[1])
    status = run_in_world(tmp_path, tmp_path / "fork_secret", [])
    gc.collect()
    out = capfd.readouterr().out
    assert status == 0, out
    assert out.count("frame as child 1's") == 3, out
    assert taken == [False, True, True, True]
    assert kept_zero and all(kept_zero)
    assert engines and instance_reuse.kept_count(engines[0]) == 0
    assert _snapshots() == before


def test_instance_not_kept_while_its_memory_is_held(
    cage_program: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A dead child's instance is kept only when nothing else holds its memory's handle (a
    grate call or a Python grate with the cage's memory in hand would see the next child's
    bytes): held while the first child ends, it is closed, and the second child gets a new
    instance; the third gets the second's."""
    from lind_async.wasm import instance_reuse

    install(cage_program("fork_secret"), tmp_path / "fork_secret")
    taken = _count_takes(monkeypatch)
    kept: list[bool] = []
    keep = instance_reuse.keep

    def holding_keep(inst: Any) -> bool:
        held = inst.memory if not kept else None  # someone else has the first one's memory
        kept.append(keep(inst))
        del held
        return kept[-1]

    monkeypatch.setattr(instance_reuse, "keep", holding_keep)
    status = run_in_world(tmp_path, tmp_path / "fork_secret", [])
    out = capfd.readouterr().out
    assert status == 0, out
    assert kept[:2] == [False, True], kept
    assert taken == [False, False, True, True]
