"""A world of cages: one engine, one 3i, one confined root, and the cages running on this loop."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import wasmtime

from lind_async.abi import flags as F
from lind_async.abi.errno import EINVAL
from lind_async.abi.guest import (
    FORK_IMPORT,
    SIGNAL_FRAME_IMPORT,
    SIGNAL_RETURN_IMPORT,
    SYSCALL_IMPORT,
    SYSCALL_WAIT_IMPORT,
    THREEI_CALL_IMPORT,
)
from lind_async.abi.syscalls import SYS_exit_group
from lind_async.core.fdtable import FdTable
from lind_async.core.proctable import MICROVISOR, ProcTable
from lind_async.core.signals import SA_NOCLDSTOP, SA_NOCLDWAIT, SIG_IGN, SIGCHLD, SigAction
from lind_async.memory import faults
from lind_async.rawposix import hostfds
from lind_async.rawposix import table as rawposix_table
from lind_async.rawposix.blocking import WaitQueue
from lind_async.rawposix.confine import HostRoot
from lind_async.rawposix.files import FileOps
from lind_async.rawposix.host_stream import HostStream
from lind_async.rawposix.host_unix import policy_of as host_unix_policy
from lind_async.rawposix.kernel import ModuleUnloadable
from lind_async.runtime import guest_signals, syscall_entry
from lind_async.runtime.cage import Cage
from lind_async.runtime.fork import ForkedCage, fork_import
from lind_async.runtime.limits import Family, Limits
from lind_async.threei import native as threei_native
from lind_async.threei import ops as threei_ops
from lind_async.threei import wasm_grates
from lind_async.threei.authority import Authority, InFlight
from lind_async.threei.guest_import import THREEI_CALL_PARAMS, threei_call_now
from lind_async.threei.tables import ThreeI
from lind_async.toolchain import native
from lind_async.wasm import capi, instance_reuse, ticker
from lind_async.wasm.abi_check import check_lind_abi
from lind_async.wasm.engine import EngineConfig, LindEngine, ModuleError
from lind_async.wasm.instance import SYSCALL_PARAMS, HostImports, LindInstance

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.threei.python_grates import Grate

# The SIGBUS guard (memory/faults.py): its handler bumps the faulting cage's engine's epoch, and
# is built by the toolchain on first use. (Before any cage maps a file: cages need this module.)
faults.configure(
    epoch_bump=ctypes.cast(capi.lib.wasmtime_engine_increment_epoch, ctypes.c_void_p).value,
    library=native.faults_library,
)




log = logging.getLogger("lind_async.microvisor")

Program = str | os.PathLike[str] | bytes | bytearray | wasmtime.Module


def default_cache_dir() -> Path:
    """``$LIND_ASYNC_CACHE_DIR``, else ``$XDG_CACHE_HOME/lind_async``, else ``~/.cache/…``."""
    explicit = os.environ.get("LIND_ASYNC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lind_async"


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
    imports.define_sync(*SYSCALL_IMPORT, SYSCALL_PARAMS, ["i64"], syscall_entry.syscall_now,
                        trampoline=syscall_entry.trampoline(default_cache_dir()))
    _native_ticker(default_cache_dir())
    imports.define_async(*SYSCALL_WAIT_IMPORT, [], ["i64"], _syscall_wait)
    imports.define_sync(*FORK_IMPORT, [], ["i64"], fork_import)  # asyncify; see runtime/fork.py
    imports.define_sync(
        *SIGNAL_FRAME_IMPORT, ["i32", "i32"], ["i64"], guest_signals.signal_frame_import
    )
    imports.define_sync(*SIGNAL_RETURN_IMPORT, [], ["i64"], guest_signals.signal_return_import)
    imports.define_sync(*THREEI_CALL_IMPORT, THREEI_CALL_PARAMS, ["i64"], threei_call_now,
                        trampoline=threei_native.install(default_cache_dir()))
    return imports


def _native_ticker(cache_dir: Path) -> None:
    """Epoch tickers as C threads (``native/ticker.c``, see ``wasm/ticker.py``) where it builds;
    else the Python thread stays."""
    if ticker.use_native_loaded() or os.environ.get("LIND_ASYNC_PYTHON_TICKER"):
        return
    try:
        ticker.use_native(str(native.ticker_library(cache_dir)))
    except Exception as exc:  # no zig, no compiler output: Python's thread serves
        log.info("epoch ticker: the C thread is unavailable (%s); using Python's", exc)


class World:
    """One world of cages on the current event loop: one root, one process table and id space, one
    authority and 3i, the host stdio and the engine that runs them (RawPOSIX sees it as its
    ``WorldView``). The embedding API's ``lind_async.Microvisor`` keeps one world per root.

    ``root`` is the host directory cages see as ``/``; the host's stdio streams are the cages'
    fds 0, 1 and 2 (used without blocking the loop). ``host_unix_sockets``: ``True`` lets host
    processes connect to every AF_UNIX path name a cage binds, a collection of guest paths to
    those only (``rawposix/host_unix.py``; off by default).
    """

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] = ".",
        engine_config: EngineConfig | None = None,
        diagnostics: TextIO | None = None,
        engine: LindEngine | None = None,
        host_unix_sockets: bool | Collection[str | bytes] = False,
        imports: HostImports | None = None,
    ) -> None:
        rawposix_table.load_lazy()  # a family is imported on its first call
        threei_ops.install()
        hostfds.raise_host_limit()  # RLIMIT_NOFILE soft -> hard; a reserve kept (core/hostfds.py)
        # ``engine``: share another microvisor's engine (and module cache); its owner stops it.
        self._owns_engine = engine is None
        if engine is None:
            config = engine_config or EngineConfig(cache_dir=default_cache_dir() / "modules")
            engine = LindEngine(config)
        self.engine = engine
        self.threei = ThreeI()
        self.root = HostRoot(root)
        # AF_UNIX path names host processes may connect to (rawposix/host_unix.py): off by default
        self.host_unix_sockets = host_unix_policy(host_unix_sockets)
        # ``imports``: another world's (the same definitions: they serve whichever cage calls),
        # so a memory's kept InstancePre fits the next cage of any world on the engine.
        self.imports = lind_imports() if imports is None else imports
        self.cages: dict[int, Cage] = {}
        self.procs = ProcTable()
        self._child_waits: dict[int, WaitQueue] = {}
        self._next_id = 1
        self.max_cages = 4096  # RLIMIT_NPROC for every cage
        self.in_flight = InFlight()
        self.authority = Authority(self.procs, self.threei, self.in_flight)
        # Python grates by their 3i id (they have a routing table but no process).
        self.python_grates: dict[int, Grate] = {}
        # Told of every signal sent to a cage of this world, before its disposition applies:
        # ``observe(cage_id, signo, sender)`` (a Python grate's ``on_signal``: strace).
        self.signal_observers: list[Callable[[int, int, int], None]] = []
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

    def load_program(self, program: bytes) -> wasmtime.Module:
        """``execve``'s load (``rawposix/kernel.py``: ``WorldView``): a module, or
        :class:`ModuleUnloadable` for bytes that are not a runnable cage program."""
        try:
            return self.load(program)
        except ModuleError as exc:
            raise ModuleUnloadable(str(exc)) from None

    def spawn(
        self,
        program: Program,
        argv: Sequence[str | bytes],
        env: Mapping[str, str] | Sequence[str | bytes] = (),
        *,
        cwd: bytes = b"/",
        grates: Sequence[Grate] = (),
        stdio: Sequence[FileOps | None] = (),
        limits: Limits | None = None,
        routes_from: int | None = None,
        ignored: Iterable[int] = (),
    ) -> Cage:
        """Start a top-level cage running ``program``; it runs as a task on this loop.

        ``grates`` (Python grates, ``lind_async.Grate``) interpose on its calls; the first listed
        is outermost (it sees the program's calls first), as with ``run --grate``. ``stdio`` gives
        its fds 0, 1, 2 (``None`` or missing: the microvisor's own stdio); ``limits`` apply to it
        and every process it starts (``runtime/limits.py``). ``routes_from``: the cage starts
        with a copy of that 3i id's table instead of an empty one (a grate started inside a
        lane forwards to what lies below the lane). ``ignored``: signals the program starts with
        ignored, as a native program inherits ``SIG_IGN`` dispositions across ``exec``."""
        module = self.load(program)
        fds = FdTable() if limits is None or limits.fds is None else FdTable(limits.fds, limits.fds)
        for vfd in range(3):
            given = stdio[vfd] if vfd < len(stdio) else None
            fds.install(self._host_stdio()[vfd] if given is None else given)
        cage_id = self.new_id()
        argv_b, env_b = _encode_all(argv), _encode_env(env)
        cage = Cage(self, cage_id, MICROVISOR, module, argv_b, env_b, fds, cwd)
        cage.family = Family(limits or Limits())
        for signo in ignored:
            cage.signals.set_action(signo, SigAction(SIG_IGN))
        self.threei.add_cage(cage_id)
        # Its live table (the same object for its life), known before its first call: the C
        # trampoline answers only calls of a cage whose table it can see is empty.
        cage._routes = self.threei.table(cage_id)
        if routes_from is not None:
            self.threei.copy_table(routes_from, cage_id)
        for grate in reversed(grates):  # innermost first: each copies what is below it
            grate.attach(self, cage_id)
        self.start(cage)
        return cage

    def new_id(self) -> int:
        """A fresh id for a cage or a thread (one namespace, as Linux pids and tids)."""
        cage_id = self._next_id
        self._next_id += 1
        return cage_id

    def fork(
        self, parent: Cage, instance: LindInstance, entry: tuple[str, list[int]], blocked: int
    ) -> Cage:
        """A child of ``parent`` (fork from ``instance``, which runs ``entry``, with signal mask
        ``blocked``): a copy of its process state and memory (see ``runtime/fork.py``), with the
        parent's 3i table, started as its own task."""
        child = ForkedCage(self, self.new_id(), parent, instance, entry, blocked)
        try:
            self.threei.fork(parent.cage_id, child.cage_id)
        except BaseException:  # no child after all: its memory and shared mappings go
            child.drop_shared_mappings()
            raise
        self.start(child)
        return child

    def start(self, cage: Cage) -> None:
        """Register ``cage`` in the process table and run it as a task on this loop. The caller
        has set up its 3i table (a new one, or the parent's copy for fork)."""
        self.procs.add(cage.cage_id, cage.parent_id)
        self.cages[cage.cage_id] = cage
        cage.family.members.add(cage)
        task = asyncio.get_running_loop().create_task(cage.run(), name=f"cage-{cage.cage_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def may_add_process(self, parent: Cage) -> bool:
        """Whether ``parent`` may start one more process (fork, vfork, clone): the microvisor's
        cage count and the family's ``Limits.children`` both allow it."""
        return len(self.cages) < self.max_cages and parent.family.may_add_process()

    def child_waits(self, pid: int) -> WaitQueue:
        """Where ``wait4`` callers of process ``pid`` wait for a child to change state."""
        queue = self._child_waits.get(pid)
        if queue is None:
            queue = self._child_waits[pid] = WaitQueue()
        return queue

    def child_state_changed(self, child: Cage, parent_pid: int | None) -> None:
        """A child stopped, continued or exited: wake its parent's waiters, send ``SIGCHLD``."""
        if parent_pid is None:
            return
        self.child_waits(parent_pid).wake_all()
        parent = self.cages.get(parent_pid)
        if parent is not None:
            stopping = child.is_stopped and child.status is None
            if not (stopping and parent.signals.action(SIGCHLD).flags & SA_NOCLDSTOP):
                parent.post_signal(SIGCHLD, child.cage_id)

    async def run(
        self,
        program: Program,
        argv: Sequence[str | bytes],
        env: Mapping[str, str] | Sequence[str | bytes] = (),
        *,
        grates: Sequence[Grate] = (),
    ) -> int:
        """Run one cage to completion (under ``grates``, see :meth:`spawn`); returns its Linux
        wait status."""
        cage = self.spawn(program, argv, env, grates=grates)
        await cage.exited.wait()
        assert cage.status is not None
        return cage.status

    def valid_handler(self, grate_id: int, handler: int) -> bool:
        """Could wasm grate ``grate_id`` run handler ``handler`` (``wasm_grates.valid_handler``)?
        False for an id that is not a live cage."""
        grate = self.cages.get(grate_id)
        return grate is not None and wasm_grates.valid_handler(self, grate, handler)

    def cage_exited(self, cage: Cage) -> None:
        assert cage.status is not None
        if cage.status & 0x7F and self.threei.has_cage(cage.cage_id):
            self._notify_harsh_exit(cage)
        self.threei.remove_cage(cage.cage_id)
        self.cages.pop(cage.cage_id, None)
        cage.family.members.discard(cage)
        self._child_waits.pop(cage.cage_id, None)
        if cage.cage_id not in self.procs:
            cage.lifecycle.reap()  # no record: nobody collects the status
            return
        for parent_pid in self.procs.exit(cage.cage_id, cage.status, self._keeps_no_zombies):
            self.child_state_changed(cage, parent_pid)
        if cage.cage_id not in self.procs:
            cage.lifecycle.reap()  # released at once: a top-level cage, or autoreaped

    def _keeps_no_zombies(self, pid: int) -> bool:
        """Does cage ``pid`` ignore ``SIGCHLD`` or set ``SA_NOCLDWAIT`` (its children are reaped
        as they exit)?"""
        parent = self.cages.get(pid)
        if parent is None:
            return False
        action = parent.signals.action(SIGCHLD)
        return action.handler == SIG_IGN or bool(action.flags & SA_NOCLDWAIT)

    def _notify_harsh_exit(self, cage: Cage) -> None:
        """A cage died abnormally (a trap, a fatal signal): tell every grate that has calls from
        it in flight or that its table routes to (a *harsh exit*). A Python grate's ``on_cage_exit``
        is called; a wasm grate that interposes ``exit_group`` for the cage gets that call, made
        on the dead cage's behalf with its wait status, so its bookkeeping runs as for an exit."""
        assert cage.status is not None
        cage_id, status = cage.cage_id, cage.status
        grates = self.in_flight.grates_serving(cage_id)
        grates |= {route.handler_cage for _, route in self.threei.routes(cage_id)}
        exit_route = self.threei.route(cage_id, SYS_exit_group)
        for grate_id in sorted(grates):
            python_grate = self.python_grates.get(grate_id)
            if python_grate is not None:
                try:
                    python_grate.on_cage_exit(cage_id, status)
                except Exception:
                    log.exception("grate %d: on_cage_exit failed", grate_id)
                continue
            grate = self.cages.get(grate_id)
            if exit_route is None or exit_route.handler_cage != grate_id or grate is None:
                continue
            if grate.status is not None:
                continue
            notice = wasm_grates.invoke(
                self, grate, exit_route.handler, cage_id, (status, 0, 0, 0, 0, 0), (cage_id,) * 6
            )
            if isinstance(notice, int):
                continue
            task = asyncio.get_running_loop().create_task(
                _awaited(notice), name=f"harsh-exit-{cage_id}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def report(self, message: str) -> None:
        """A one-line diagnostic for the person running the microvisor."""
        print(f"lind_async: {message}", file=self._diagnostics, flush=True)

    async def close(self) -> None:
        """Kill every cage still running, then release host resources."""
        # A cage task cancelled before its first step would never run the cage's cleanup (its
        # fds would stay open): let tasks started just now take that step first.
        await asyncio.sleep(0)
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
        instance_reuse.drop(self.engine, self.imports)  # (dead cages' kept instances)
        if self._owns_engine:
            self.engine.ticker.stop()

    async def __aenter__(self) -> World:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _awaited(pending: Awaitable[int]) -> int:
    return await pending


def _encode_all(items: Sequence[str | bytes]) -> list[bytes]:
    return [os.fsencode(i) if isinstance(i, str) else i for i in items]


def _encode_env(env: Mapping[str, str] | Sequence[str | bytes]) -> list[bytes]:
    if isinstance(env, Mapping):
        return [os.fsencode(f"{k}={v}") for k, v in env.items()]
    return _encode_all(env)
