"""rawposix/sigio.py's sends: only to owners the cage that named them may signal."""

from __future__ import annotations

import weakref
from typing import Any

import pytest

from lind_async.core.signals import SIGIO
from lind_async.rawposix import sigio


class _Procs:
    def __init__(self, pids: set[int], groups: dict[int, list[int]]) -> None:
        self.pids, self.groups = pids, groups

    def __contains__(self, pid: int) -> bool:
        return pid in self.pids

    def group(self, pgid: int) -> list[int]:
        return self.groups.get(pgid, [])


class _Authority:
    def __init__(self, allowed: set[tuple[int, int]]) -> None:
        self.allowed = allowed

    def may_signal(self, sender: int, target: int, callnum: int, signo: int = 0) -> bool:
        return (sender, target) in self.allowed


class _Cage:
    """Records what is posted to it, as (name, signo, sender, poll)."""

    def __init__(self, name: str, got: list[tuple[Any, ...]]) -> None:
        self.name, self.got = name, got

    def post_signal(self, signo: int, sender: int = 0, poll: Any = None) -> None:
        self.got.append((self.name, signo, sender, poll))


class _World:
    def __init__(self, allowed: set[tuple[int, int]]) -> None:
        self.procs = _Procs({1, 2, 3}, {7: [1, 2, 3]})
        self.authority = _Authority(allowed)
        self.got: list[tuple[Any, ...]] = []
        self.cages = {n: _Cage(f"cage{n}", self.got) for n in (1, 2, 3)}


def _sent(monkeypatch: pytest.MonkeyPatch, world: _World, state: Any) -> list[tuple[Any, ...]]:
    world.got.clear()
    sigio._send(state, sigio.POLL_IN)
    return list(world.got)


def test_group_owner_reaches_only_killable(monkeypatch: pytest.MonkeyPatch) -> None:
    world = _World({(1, 1), (1, 2)})
    state = sigio._Async(owner=-7, setter=1, world=weakref.ref(world))  # type: ignore[arg-type]
    expected = [("cage1", SIGIO, 0, None), ("cage2", SIGIO, 0, None)]
    assert _sent(monkeypatch, world, state) == expected


def test_pid_owner_refused_and_gone_setter(monkeypatch: pytest.MonkeyPatch) -> None:
    world = _World({(1, 1)})
    state = sigio._Async(owner=3, setter=1, world=weakref.ref(world))  # type: ignore[arg-type]
    assert _sent(monkeypatch, world, state) == []
    world.authority.allowed.add((9, 3))
    state.setter = 9  # allowed, but no longer in the process table: nobody
    assert _sent(monkeypatch, world, state) == []


def test_setsig_carries_poll_info(monkeypatch: pytest.MonkeyPatch) -> None:
    world = _World({(2, 2)})
    state = sigio._Async(owner=2, setter=2, signo=10, fd=5, world=weakref.ref(world))  # type: ignore[arg-type]
    assert _sent(monkeypatch, world, state) == [("cage2", 10, 0, (sigio.POLL_IN, 0x41, 5))]
