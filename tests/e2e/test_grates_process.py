"""Process calls through a Python grate: fork, execve, exit_group and mmap, forwarded."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from lind_async.abi import syscalls as nr
from lind_async.runtime.world import World, default_cache_dir
from lind_async.threei.python_grates import Call, Grate, handles
from lind_async.wasm.engine import EngineConfig

FAKE_CHILD = 4242


class ProcessCalls(Grate):
    """Interposes process calls, forwards them, and lies about fork's result."""

    name = "process-calls"

    def __init__(self) -> None:
        self.seen: list[tuple[int, str]] = []
        self.exits: list[tuple[int, int]] = []

    @handles(nr.SYS_fork, nr.SYS_execve, nr.SYS_mmap)
    async def forwarded(self, call: Call) -> int:
        self.seen.append((call.caller, call.name))
        result = await call.forward()
        return FAKE_CHILD if call.number == nr.SYS_fork and result > 0 else result

    def sys_exit_group(self, call: Call) -> Any:
        self.exits.append((call.caller, call.int(0)))
        return call.forward()

    def sys_geteuid(self, call: Call) -> int:
        return 777


def test_process_calls_forwarded_by_a_grate(
    cage_program: Any, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    wasm = cage_program("grate_process")
    shutil.copyfile(wasm, root / "grate_process")
    (root / "grate_process").chmod(0o755)
    grate = ProcessCalls()

    async def main() -> int:
        config = EngineConfig(cache_dir=default_cache_dir() / "modules")
        async with World(root=root, engine_config=config) as mv:
            return await mv.run(wasm, ["grate_process"], grates=[grate])

    status = asyncio.run(main())
    out = capfd.readouterr().out.splitlines()
    assert status == 3 << 8
    assert "mmap through the grate: 1" in out
    assert "euid from grate: 777" in out
    assert "child: euid from grate 777" in out  # the child inherited the routes (fork)
    assert "image: pid kept 1, euid from grate 777" in out  # exec kept them
    assert f"parent: fork returned {FAKE_CHILD}" in out  # the grate changed the parent's value
    assert "parent: child exited 9" in out
    assert "parent: real child pid differs from what the grate said: 1" in out
    names = [name for _, name in grate.seen]
    assert "fork" in names and "execve" in names and "mmap" in names
    parent = grate.seen[0][0]
    assert (parent, 3) in grate.exits
    child_exec = [who for who, name in grate.seen if name == "execve"]
    assert child_exec and child_exec[0] != parent


class Watcher(Grate):
    """Routes write (so the crashing cage's table points here) and records harsh exits."""

    name = "watcher"

    def __init__(self) -> None:
        self.deaths: list[tuple[int, int]] = []

    def sys_write(self, call: Call) -> Any:
        return call.forward()

    def on_cage_exit(self, cage_id: int, status: int) -> None:
        self.deaths.append((cage_id, status))


def test_a_grate_is_told_when_a_cage_it_serves_dies_abnormally(
    cage_program: Any, root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    crash, hello = cage_program("crash"), cage_program("hello")
    watcher = Watcher()

    async def main() -> tuple[int, int, int, int]:
        config = EngineConfig(cache_dir=default_cache_dir() / "modules")
        async with World(root=root, engine_config=config) as mv:
            bad = mv.spawn(crash, ["crash"], grates=[watcher])
            good = mv.spawn(hello, ["hello"], grates=[watcher])
            await bad.exited.wait()
            await good.exited.wait()
            assert bad.status is not None and good.status is not None
            return bad.cage_id, bad.status, good.cage_id, good.status

    bad_id, bad_status, _good_id, good_status = asyncio.run(main())
    assert bad_status == 11 and good_status == 3 << 8
    assert watcher.deaths == [(bad_id, 11)]  # the normal exit of the other cage is no "death"
    assert "about to crash" in capfd.readouterr().out
