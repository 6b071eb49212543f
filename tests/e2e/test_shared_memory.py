"""MAP_SHARED anonymous memory across fork (rawposix/shm.py, runtime/fork.py, rawposix/futex.py):
C programs compared with native builds, and in-process runs that check the host side — shared
futex keys really used, every memfd closed once the cages are gone."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest

from lind_async.rawposix import futex, shm
from tests.e2e.conftest import STACKS, MatchesNative, install
from tests.e2e.inprocess import run_in_world

CASES: list[tuple[str, list[str]]] = [
    ("shm_counter", ["semaphore"]),  # 2 children x 10,000 increments under a pshared semaphore
    ("shm_counter", ["mutex"]),  # the same under a PTHREAD_PROCESS_SHARED mutex
    ("shm_pingpong", []),  # 2,000 rounds over two pshared semaphores, parent <-> child
    ("shm_private", []),  # private stays private, shared stays shared, munmap gives zeros
    ("shm_exec", []),  # a sharing child execs; another keeps sharing; exit with it mapped
]

EXTRA_PROGRAMS = {"shm_exec": ["shm_exec"]}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(
    ("name", "args"), CASES, ids=[f"{c[0]}-{'-'.join(c[1]) or 'noargs'}" for c in CASES]
)
def test_matches_native(
    name: str,
    args: list[str],
    stack: str,
    matches_native: MatchesNative,
) -> None:
    matches_native(name, stack, args=args, extras=EXTRA_PROGRAMS.get(name, []))


def _memfds() -> int:
    """How many of this process's fds are shared-anonymous memfds."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        n += "lind-shared-anon" in target
    return n



@pytest.mark.parametrize(
    ("name", "args"),
    [("shm_pingpong", []), ("shm_counter", []), ("shm_exec", []), ("shm_private", [])],
)
def test_no_memfd_or_fd_left_and_shared_futexes_used(
    name: str,
    args: list[str],
    cage_program: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    install(cage_program(name), tmp_path / name)
    created: list[shm.SharedAnon] = []
    shared_keys: list[tuple[int, int]] = []
    real_create, real_key = shm.create, shm.futex_key

    def create(base: int, start: int, end: int) -> shm.SharedAnon:
        obj = real_create(base, start, end)
        created.append(obj)
        return obj

    def futex_key(vm: Any, addr: int) -> tuple[int, int] | None:
        key = real_key(vm, addr)
        if key is not None:
            shared_keys.append(key)
        return key

    monkeypatch.setattr(shm, "create", create)
    monkeypatch.setattr(futex.shm, "futex_key", futex_key)
    gc.collect()
    fds_before = len(os.listdir("/proc/self/fd"))
    status = run_in_world(tmp_path, tmp_path / name, args)
    gc.collect()  # (a loaded module keeps its .cwasm open until collected)
    out = capfd.readouterr().out
    assert status == 0, out
    assert created, "no MAP_SHARED object was made"
    assert all(obj.fd == -1 and obj.users == 0 for obj in created), created
    assert _memfds() == 0
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert not futex.TABLE, "a futex queue was left behind"
    if name in ("shm_pingpong", "shm_counter"):
        assert all(key[0] < 0 for key in shared_keys) and shared_keys  # (object, offset) keys
