"""The microvisor: one engine, one 3i, one confined root, and the cages running on this loop."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import wasmtime

from lind_async.abi import flags as F
from lind_async.abi.errno import EINVAL, ENOSYS
from lind_async.abi.guest import SYSCALL_IMPORT, SYSCALL_WAIT_IMPORT, WOULD_WAIT
from lind_async.core.fdtable import FdTable
from lind_async.core.threei import Route, ThreeI
from lind_async.rawposix import table as rawposix_table
from lind_async.rawposix.confine import HostRoot
from lind_async.rawposix.files import FileOps, HostStream
from lind_async.runtime.abi_check import check_lind_abi
from lind_async.runtime.cage import Cage
from lind_async.runtime.engine import EngineConfig, LindEngine
from lind_async.runtime.instance import SYSCALL_PARAMS, HostImports, LindInstance

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult

Program = str | os.PathLike[str] | bytes | bytearray | wasmtime.Module


def default_cache_dir() -> Path:
    """``$LIND_ASYNC_CACHE_DIR``, else ``$XDG_CACHE_HOME/lind_async``, else ``~/.cache/…``."""
    explicit = os.environ.get("LIND_ASYNC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lind_async"


def _syscall_now(instance: LindInstance, args: tuple[int, ...]) -> int:
    """``lind.syscall`` (a sync import): complete the call now, or park it and say so."""
    cage: Cage = instance.data
    result = cage.syscall(args[0], args[1], args[2], args[3], args[4], args[5], args[6])
    if result.__class__ is int:
        return result
    instance.parked = result  # type: ignore[assignment]
    return WOULD_WAIT


def _syscall_wait(instance: LindInstance, args: tuple[int, ...]) -> SysResult:
    """``lind.syscall_wait`` (an async import): suspend this fiber until the parked call ends."""
    parked = instance.parked
    if parked is None:
        return -EINVAL  # nothing is parked: a confused (or hostile) guest
    instance.parked = None
    return parked


def lind_imports() -> HostImports:
    """The ``lind`` imports every cage instance gets."""
    imports = HostImports()
    imports.define_sync(*SYSCALL_IMPORT, SYSCALL_PARAMS, ["i64"], _syscall_now)
    imports.define_async(*SYSCALL_WAIT_IMPORT, [], ["i64"], _syscall_wait)
    return imports


class Microvisor:
    """Runs cages on the current event loop.

    ``root`` is the host directory cages see as ``/``; the host's stdio streams are the cages'
    fds 0, 1 and 2 (used without blocking the loop).
    """

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] = ".",
        engine_config: EngineConfig | None = None,
        diagnostics: TextIO | None = None,
    ) -> None:
        rawposix_table.load()
        config = engine_config or EngineConfig(cache_dir=default_cache_dir() / "modules")
        self.engine = LindEngine(config)
        self.threei = ThreeI()
        self.root = HostRoot(root)
        self.imports = lind_imports()
        self.cages: dict[int, Cage] = {}
        self._next_id = 1
        self._tasks: set[asyncio.Task[int]] = set()
        self._diagnostics = diagnostics or sys.stderr
        self._stdio: list[FileOps] | None = None

    def _host_stdio(self) -> list[FileOps]:
        if self._stdio is None:
            self._stdio = [
                HostStream.adopt(0, F.O_RDONLY),
                HostStream.adopt(1, F.O_WRONLY),
                HostStream.adopt(2, F.O_WRONLY),
            ]
            for stream in self._stdio:
                stream.refs += 1  # the microvisor's own reference, dropped in close()
        return self._stdio

    def load(self, program: Program) -> wasmtime.Module:
        """Compile (or fetch from the module cache) a cage program and check its ABI."""
        if isinstance(program, wasmtime.Module):
            module, name = program, "<module>"
        else:
            module = self.engine.load_module(program)
            name = "<bytes>" if isinstance(program, bytes | bytearray) else os.fspath(program)
        check_lind_abi(module, name)
        return module

    def spawn(
        self,
        program: Program,
        argv: Sequence[str | bytes],
        env: Mapping[str, str] | Sequence[str | bytes] = (),
        *,
        cwd: bytes = b"/",
    ) -> Cage:
        """Start a top-level cage running ``program``; it runs as a task on this loop."""
        module = self.load(program)
        fds = FdTable()
        for stream in self._host_stdio():
            fds.install(stream)
        cage_id = self._next_id
        self._next_id += 1
        cage = Cage(self, cage_id, 0, module, _encode_all(argv), _encode_env(env), fds, cwd)
        self.threei.add_cage(cage_id)
        self.cages[cage_id] = cage
        task = asyncio.get_running_loop().create_task(cage.run(), name=f"cage-{cage_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return cage

    async def run(
        self,
        program: Program,
        argv: Sequence[str | bytes],
        env: Mapping[str, str] | Sequence[str | bytes] = (),
    ) -> int:
        """Run one cage to completion; returns its Linux wait status."""
        cage = self.spawn(program, argv, env)
        await cage.exited.wait()
        assert cage.status is not None
        return cage.status

    def call_grate(self, cage: Cage, route: Route, number: int, args: tuple[int, ...]) -> SysResult:
        """Route a call into a grate (grates arrive with the grates issue)."""
        return -ENOSYS

    def cage_exited(self, cage: Cage) -> None:
        self.threei.remove_cage(cage.cage_id)
        self.cages.pop(cage.cage_id, None)

    def report(self, message: str) -> None:
        """A one-line diagnostic for the person running the microvisor."""
        print(f"lind_async: {message}", file=self._diagnostics, flush=True)

    async def close(self) -> None:
        """Kill every cage still running, then release host resources."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._stdio is not None:
            for stream in self._stdio:
                stream.refs -= 1
                if stream.refs == 0:
                    stream.release()
            self._stdio = None
        self.root.close()
        self.engine.ticker.stop()

    async def __aenter__(self) -> Microvisor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _encode_all(items: Sequence[str | bytes]) -> list[bytes]:
    return [os.fsencode(i) if isinstance(i, str) else i for i in items]


def _encode_env(env: Mapping[str, str] | Sequence[str | bytes]) -> list[bytes]:
    if isinstance(env, Mapping):
        return [os.fsencode(f"{k}={v}") for k, v in env.items()]
    return _encode_all(env)
