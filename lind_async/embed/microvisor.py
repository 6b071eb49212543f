"""``lind_async.Microvisor``: the embedder's handle on an engine, its caches and its cages.

Theory of operation
-------------------
One :class:`Microvisor` owns one wasmtime engine (its settings: ``memory_reservation``,
``time_slice``), the module cache over it, and one world of cages
(:class:`lind_async.runtime.world.World`) per root directory its cages were started in:
a cage's root is part of its world (paths, process ids and signals stay within one root), while
all roots share the engine and compiled modules. Everything of the runtime happens on the runtime
loop (see ``bridge.py``); this class only forwards.

Leaving ``async with`` (or :meth:`Microvisor.aclose`) kills every cage still running, waits until
they are gone, gives up the host's pipe ends and closes every host fd the microvisor opened (the
roots' directory fds, its stdio copies, the cages' files).
"""

from __future__ import annotations

import asyncio
import gc
import os
import posixpath
import weakref
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import wasmtime

from lind_async.embed import capture
from lind_async.embed import stdio as stdio_mod
from lind_async.embed.bridge import Bridge, new_bridge
from lind_async.embed.modules import ModuleCache, Program
from lind_async.embed.pipes import READ_LIMIT
from lind_async.embed.process import CageProcess, ProcessCore
from lind_async.rawposix.files import FileOps
from lind_async.runtime.limits import Limits
from lind_async.runtime.world import World, default_cache_dir
from lind_async.wasm.engine import EngineConfig, LindEngine

if TYPE_CHECKING:
    from lind_async.threei.python_grates import Grate
    from lind_async.wasm.instance import HostImports

PathLike = str | os.PathLike[str]
Env = Mapping[str, str] | Sequence[str | bytes]
HostUnixSockets = bool | Collection[str | bytes]


class _Host:
    """The runtime-loop side of a :class:`Microvisor`."""

    def __init__(
        self,
        config: EngineConfig,
        root: PathLike,
        diagnostics: TextIO | None,
        host_unix_sockets: HostUnixSockets = False,
    ) -> None:
        self.host_unix_sockets = host_unix_sockets
        self.engine = LindEngine(config)
        self.modules = ModuleCache(self.engine)
        self.diagnostics = diagnostics
        self._imports: HostImports | None = None  # the first world's, shared by every world
        self.worlds: dict[str, World] = {}
        self.processes: set[ProcessCore] = set()  # started here and maybe holding pipe ends
        self.started: weakref.WeakSet[ProcessCore] = weakref.WeakSet()  # every one still known
        self._prune_at = 256
        self.closed = False
        self.default_root = self.world(root).root.path
        self.deadlines = capture.Deadlines(asyncio.get_running_loop())  # Microvisor.run's

    def world(self, root: PathLike) -> World:
        if isinstance(root, str):  # a root given as the real path of a world's: that world,
            world = self.worlds.get(root)  # without realpath's lstat per component
            if world is not None:
                return world
        key = os.path.realpath(root)
        world = self.worlds.get(key)
        if world is None:
            world = World(
                root=key,
                engine=self.engine,
                diagnostics=self.diagnostics,
                host_unix_sockets=self.host_unix_sockets,
                imports=self._imports,
            )
            self._imports = world.imports
            self.worlds[key] = world
        return world

    async def spawn(
        self,
        program: Program,
        argv: list[str | bytes],
        *,
        stdin: stdio_mod.StdioSpec,
        stdout: stdio_mod.StdioSpec,
        stderr: stdio_mod.StdioSpec,
        env: Env | None,
        cwd: PathLike | bytes | None,
        grates: Sequence[Grate],
        limits: Limits | None,
        root: PathLike | None,
        limit: int,
    ) -> ProcessCore:
        module, world, guest_cwd = await self._placed(program, root, cwd)
        io = stdio_mod.resolve(stdin, stdout, stderr, limit=limit)
        try:
            cage = world.spawn(
                module,
                argv,
                {} if env is None else env,
                cwd=guest_cwd,
                grates=grates,
                stdio=io.files,
                limits=limits,
            )
        except BaseException:
            io.abandon()
            raise
        core = ProcessCore(cage, io)
        self.processes.add(core)
        self.started.add(core)
        if len(self.processes) >= self._prune_at:  # amortized: finished ones are dropped lazily
            done = [p for p in self.processes if p.cage.status is not None and _drained(p)]
            self.processes.difference_update(done)
            self._prune_at = max(256, 2 * len(self.processes))
        return core

    async def _placed(
        self, program: Program, root: PathLike | None, cwd: PathLike | bytes | None
    ) -> tuple[wasmtime.Module, World, bytes]:
        """A new cage's module, world and working directory (``RuntimeError`` once closed,
        before or while the module loads)."""
        if self.closed:
            raise RuntimeError("this Microvisor is closed")
        module = await self.modules.load(program)
        if self.closed:
            raise RuntimeError("this Microvisor is closed")
        world = self.world(self.default_root if root is None else root)
        return module, world, _check_cwd(world, cwd)

    async def run(
        self,
        program: Program,
        argv: list[str | bytes],
        *,
        input: bytes,
        stderr: stdio_mod.StdioSpec,
        env: Env | None,
        cwd: PathLike | bytes | None,
        grates: Sequence[Grate],
        limits: Limits | None,
        root: PathLike | None,
        timeout: float | None,
        max_output: int | None,
    ) -> capture.CompletedCage:
        module, world, guest_cwd = await self._placed(program, root, cwd)
        out = capture.Capture(max_output)
        stdin, source = capture.stdin_with(input)
        err: FileOps | None = None
        try:
            err = capture.stderr_file(stderr, out.cage_end)
            cage = world.spawn(module, argv, {} if env is None else env, cwd=guest_cwd,
                               grates=grates, stdio=(stdin, out.cage_end, err), limits=limits)
        except BaseException:
            for file in (stdin, out.cage_end, err):
                if file is not None and file.refs == 0:
                    file.release()
            out.release()
            if source is not None:
                source.release()
            raise
        try:
            return await capture.finish(cage, out, timeout, self.deadlines)
        finally:
            out.release()
            if source is not None:
                source.release()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for world in self.worlds.values():
            await world.close()  # cancels every cage task and waits for them
        for core in self.started:
            core.detach()
        self.processes.clear()
        self.worlds.clear()
        self.modules.clear()
        self.engine.ticker.stop()
        # Finished cages are reference cycles (cage, its tasks' frames, instances), and a module
        # loaded from a .cwasm keeps that file open while alive. Let the loop run the finished
        # tasks' done-callbacks (the last references from outside), then collect the cycles, so
        # no fd outlives the close.
        await asyncio.sleep(0)
        gc.collect()


def _drained(core: ProcessCore) -> bool:
    ends = (core.stdio.stdin, core.stdio.stdout, core.stdio.stderr)
    return all(end is None or end.is_closing() for end in ends)


def _check_cwd(world: World, cwd: PathLike | bytes | None) -> bytes:
    """The cage's working directory as a normalized guest path; it must exist in the root."""
    if cwd is None:
        return b"/"
    raw = os.fsencode(cwd)
    path = posixpath.normpath(b"/" + raw)
    if path.startswith(b"//"):
        path = b"/" + path.lstrip(b"/")
    try:
        fd = world.root.open(path, os.O_PATH | os.O_DIRECTORY)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cwd {os.fsdecode(raw)!r}: {exc.strerror}") from None
    os.close(fd)
    return path


class Microvisor:
    """Runs cages for an async Python program (asyncio, uvloop or trio).

    ``root``: the host directory cages see as ``/`` (each :meth:`create_cage_exec` may name
    another). ``memory_reservation``: virtual bytes reserved per linear memory (``None``: 4 GiB;
    smaller lets more cages fit). ``time_slice``: seconds a cage runs before it is preempted.
    ``cache_dir``: the on-disk cache of compiled modules. ``diagnostics``: where one-line reports
    (a cage crashed…) go (default ``sys.stderr``). ``host_unix_sockets``: ``True`` lets host
    processes connect to the AF_UNIX path names cages bind (stream and seqpacket), a collection
    of guest paths (``"/srv.sock"``) to those only; off by default (docs/security.md).

    Use it as ``async with Microvisor(...) as mv:``; leaving the block kills and reaps every cage
    it started and releases every host fd it opened.
    """

    def __init__(
        self,
        *,
        root: PathLike = ".",
        memory_reservation: int | None = None,
        time_slice: float = 0.005,
        cache_dir: PathLike | None = None,
        diagnostics: TextIO | None = None,
        host_unix_sockets: HostUnixSockets = False,
    ) -> None:
        self._host_unix_sockets = host_unix_sockets
        self._config = EngineConfig(
            time_slice=time_slice,
            memory_reservation=memory_reservation,
            cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir() / "modules",
        )
        self._config.validate()
        self._root = root
        self._diagnostics = diagnostics
        self._bridge: Bridge | None = None
        self._host: _Host | None = None
        self._closed = False

    # -- lifecycle ----------
    async def start(self) -> Microvisor:
        """Bind to the running event loop (``async with`` does this)."""
        if self._closed:
            raise RuntimeError("this Microvisor is closed")
        if self._bridge is not None:
            return self
        bridge = new_bridge()
        try:
            self._host = await bridge.run(self._new_host)
        except BaseException:
            await bridge.close()
            raise
        self._bridge = bridge
        return self

    async def _new_host(self) -> _Host:
        return _Host(self._config, self._root, self._diagnostics, self._host_unix_sockets)

    async def aclose(self) -> None:
        """Kill and reap every cage, release every host resource. Idempotent."""
        if self._closed:
            return
        self._closed = True
        bridge, host = self._bridge, self._host
        if bridge is None or host is None:
            return
        try:
            await bridge.run(host.close, shield=True)  # a cancelled caller still closes it all
        finally:
            self._host = host = None
            await bridge.close()

    async def __aenter__(self) -> Microvisor:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def root(self) -> str:
        """The default root (a real path)."""
        return self._require()[1].default_root

    def _require(self) -> tuple[Bridge, _Host]:
        if self._closed:
            raise RuntimeError("this Microvisor is closed")
        if self._bridge is None or self._host is None:
            raise RuntimeError("use `async with Microvisor(...)` (or await start()) first")
        return self._bridge, self._host

    # -- programs ----------
    async def load(self, program: Program) -> wasmtime.Module:
        """Compile (or fetch from the caches) a program; pass the module to
        :meth:`create_cage_exec` to skip even the ``stat`` of a path."""
        if not self._started:
            await self.start()
        bridge, host = self._require()
        return await bridge.run(lambda: host.modules.load(program))

    @property
    def _started(self) -> bool:
        return self._bridge is not None

    async def create_cage_exec(
        self,
        program: Program,
        *args: str | bytes,
        stdin: stdio_mod.StdioSpec = None,
        stdout: stdio_mod.StdioSpec = None,
        stderr: stdio_mod.StdioSpec = None,
        env: Env | None = None,
        cwd: PathLike | bytes | None = None,
        grates: Sequence[Grate] = (),
        limits: Limits | None = None,
        root: PathLike | None = None,
        argv0: str | bytes | None = None,
        limit: int = READ_LIMIT,
    ) -> CageProcess:
        """Start ``program`` with arguments ``args`` in a new cage, as
        ``asyncio.create_subprocess_exec`` starts a process.

        ``stdin``/``stdout``/``stderr``: ``None`` (the microvisor's own stdio), :data:`PIPE`,
        :data:`DEVNULL`, :data:`STDOUT` (stderr only), an fd or a file object. ``env``: the whole
        environment (a mapping or ``NAME=VALUE`` strings; default: empty, nothing of the host's
        leaks in). ``cwd``: the working directory inside the root (default ``/``). ``grates``:
        Python grates interposing on its calls (the first is outermost). ``limits``:
        :class:`Limits` for it and every process it starts. ``root``: another host directory to
        be its ``/``. ``argv0``: its ``argv[0]`` (default: ``program`` as given). ``limit``:
        the buffer limit of the ``PIPE`` readers, as asyncio's (``readline`` beyond it raises
        ``ValueError``, ``readuntil`` ``LimitOverrunError``; reading pauses, and the cage's
        writes wait, while more than twice it is buffered).
        """
        if not self._started:
            await self.start()
        bridge, host = self._require()
        name = argv0 if argv0 is not None else _argv0(program)
        argv: list[str | bytes] = [name, *args]
        core = await bridge.run(
            lambda: host.spawn(
                program,
                argv,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=cwd,
                grates=grates,
                limits=limits,
                root=root,
                limit=limit,
            )
        )
        return CageProcess(core, bridge)

    async def run(
        self,
        program: Program,
        *args: str | bytes,
        input: bytes | bytearray | memoryview = b"",
        stderr: stdio_mod.StdioSpec = stdio_mod.DEVNULL,
        env: Env | None = None,
        cwd: PathLike | bytes | None = None,
        grates: Sequence[Grate] = (),
        limits: Limits | None = None,
        root: PathLike | None = None,
        argv0: str | bytes | None = None,
        timeout: float | None = None,
        max_output: int | None = None,
    ) -> capture.CompletedCage:
        """Run ``program`` in a new cage to its end, as ``subprocess.run(..., input=,
        capture_output=True)``: ``input`` is its stdin (then end-of-file), its stdout is
        captured, and whatever it started and left running is killed before this returns.
        Returns a :class:`CompletedCage` (``returncode``, ``stdout``).

        ``timeout`` (seconds): past it the cage and everything it started are killed and
        ``TimeoutError`` is raised; ``max_output`` (bytes): the same, with
        :class:`OutputTooLarge`, once the cage wrote more to its stdout. ``stderr``: ``DEVNULL``
        (the default), ``STDOUT`` (captured with stdout), ``None`` or a host fd, as
        :meth:`create_cage_exec`'s. The other arguments are :meth:`create_cage_exec`'s.
        Cancelling it kills the cage and everything it started. This is the cheaper way to run a
        program per request: no process object, streams or tasks of its own
        (``embed/capture.py``)."""
        if not self._started:
            await self.start()
        bridge, host = self._require()
        name = argv0 if argv0 is not None else _argv0(program)
        argv: list[str | bytes] = [name, *args]
        data = bytes(input)
        return await bridge.run(lambda: host.run(
            program, argv, input=data, stderr=stderr, env=env, cwd=cwd, grates=grates,
            limits=limits, root=root, timeout=timeout, max_output=max_output))

    # -- introspection ----------
    def running(self) -> list[int]:
        """Ids of the cages alive now (every root), for monitoring and tests."""
        _, host = self._require()
        return sorted(c for world in list(host.worlds.values()) for c in list(world.cages))

    def stats(self) -> dict[str, Any]:
        """Counts for monitoring: live cages, roots, cached modules."""
        _, host = self._require()
        return {
            "cages": sum(len(w.cages) for w in list(host.worlds.values())),
            "roots": len(host.worlds),
            "modules": len(host.modules._by_file),
        }


def _argv0(program: Program) -> str | bytes:
    if isinstance(program, str):
        return program
    if hasattr(type(program), "__fspath__"):  # (os.PathLike's test, without the ABC's check)
        return os.fspath(program)  # type: ignore[arg-type]
    return "cage"
