"""A cage: one program's process state, and the task that runs it.

Theory of operation
-------------------
A :class:`Cage` owns everything a Linux process would: its wasm instance (one Store, the main
fiber), linear memory and the bounds-checked accessor over it, fd table, cwd, vmmap, signal state
and identity. Its task (:meth:`Cage.run`) instantiates the module, lays out the initial stack image,
calls ``_start`` through :func:`lind_async.wasm.fiber.run_call` and turns however the call ends
into a Linux wait status:

- ``exit``/``exit_group`` raise :class:`~lind_async.rawposix.kernel.CageExit` inside the handler;
  the fiber layer unwinds the wasm stack with a trap and re-raises it here: ``code << 8``;
- a wasm trap is the *cage's* crash, never the microvisor's: the status is "killed by" the signal
  the same fault raises natively (``SIGSEGV`` for memory faults and bad indirect calls, ``SIGILL``
  for ``unreachable``/``__builtin_trap``, ``SIGFPE`` for integer faults) and one line is logged;
- any other exception escaping a handler is a RawPOSIX bug: logged with its traceback, the cage
  is killed (``SIGSYS``) and every other cage carries on.

The cage keeps identity and the state RawPOSIX sees (``rawposix/kernel.py``: ``CageView``); what
another module owns is a record only that module writes (``delivery``: runtime/signals.py,
``forking``: runtime/fork_state.py, ``threads``: runtime/threads.py, ``grate_workers``:
threei/wasm_grates.py). Its phase — running, stopped, exec pending, exited, reaped — is a pure state
machine (``core/lifecycle.py``) that only this module moves; ``kill_status`` is read from it, and
``status`` and ``stopped`` mirror it as plain attributes for the hot paths (every syscall reads
``stopped``, every grate hop ``status``).

Every system call enters at :meth:`Cage.syscall`: 3i looks up the cage's own routing table
(``threei/tables.py``); with no route the call goes to RawPOSIX's table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import wasmtime

from lind_async.abi.errno import EINTR, ESRCH, GuestError
from lind_async.abi.flags import SIGKILL
from lind_async.core.fdtable import FdTable
from lind_async.core.lifecycle import Lifecycle, Phase
from lind_async.core.proctable import exited, killed
from lind_async.core.signals import SignalState
from lind_async.core.vmmap import VmMap
from lind_async.memory import GuestMemory, cow, faults
from lind_async.rawposix import locks, shm, sysv_sem
from lind_async.rawposix import table as rawposix
from lind_async.rawposix.files import FileOps
from lind_async.rawposix.kernel import CageExit, ExecImage, ThreadExit
from lind_async.runtime import signals, threads
from lind_async.runtime.cage_ops import CageOps
from lind_async.runtime.fork_state import ForkState
from lind_async.runtime.limits import Family
from lind_async.runtime.process_image import build_stack_image
from lind_async.threei.route import hop
from lind_async.threei.tables import UNKNOWN_CALLS
from lind_async.wasm import instance_reuse
from lind_async.wasm.fiber import WasmTrap, run_call, trap_signal
from lind_async.wasm.instance import LindInstance, SharedMemoryHandle, instantiate, module_spec

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.world import World
    from lind_async.threei.tables import Route

log = logging.getLogger("lind_async.cage")

SIGSEGV, SIGXCPU, SIGSYS = 11, 24, 31


FORK_IMPORT = ("lind", "fork")  # a module importing it may fork: its memory is copy-on-write


class _NoMemory:
    """The memory of a cage that has none: every use is ``ESRCH``."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        raise GuestError(ESRCH)


_NO_MEMORY = cast(GuestMemory, _NoMemory())


class Cage:
    """One sandboxed process."""

    def __init__(
        self,
        microvisor: World,
        cage_id: int,
        parent_id: int,
        module: wasmtime.Module,
        argv: Sequence[bytes],
        env: Sequence[bytes],
        fds: FdTable,
        cwd: bytes = b"/",
    ) -> None:
        self.microvisor = microvisor
        self.cage_id = cage_id
        self.parent_id = parent_id
        self.module = module
        self.argv = list(argv)
        self.env = list(env)
        self.fds = fds
        self.cwd = cwd
        self.umask = 0o022
        self.signals = SignalState()
        self.clear_child_tid = 0
        self.threads = threads.ThreadGroup()  # secondary threads; see runtime/threads.py
        self.instance: LindInstance | None = None
        self._vm: VmMap | None = None
        # running, stopped, exec pending, exited (core/lifecycle.py); moved only by this module
        self.lifecycle = Lifecycle()
        # ``lifecycle.status`` (the Linux wait status once exited), mirrored in a plain attribute:
        # every grate hop reads it; set only where the lifecycle exits (``_finish``).
        self.status: int | None = None
        self.exited = asyncio.Event()
        self._routes: Mapping[int, Route] | None = None  # this cage's live 3i table, once known
        self._python_grates = microvisor.python_grates
        self.own_owners = (cage_id,) * 6  # every argument this cage's (a call it makes itself)
        # the worker pool once it serves as a grate (threei/wasm_grates.py)
        self.grate_workers: Any = None
        # Tasks running this cage's wasm (the main fiber; threads add theirs).
        self.tasks: set[asyncio.Task[Any]] = set()
        # Blocking waits in progress (a deliverable signal ends them with EINTR).
        self.blocked: set[asyncio.Future[None]] = set()
        self.sender: dict[int, int] = {}  # who sent each pending signal (written by signals.py)
        # whether a handler runs, the handler-running instance and its stack (runtime/signals.py)
        self.delivery = signals.SignalDelivery()
        self.tls_base: int | None = None
        self.stack_size = 0  # the main stack's size (RLIMIT_STACK), known once started
        self.alarm: tuple[asyncio.TimerHandle, int] | None = (
            None  # ITIMER_REAL: (timer, interval µs)
        )
        self._continued = asyncio.Event()
        self._continued.set()
        # ``lifecycle.stopped`` (SIGSTOP'd: halts at its next safe point until SIGCONT), mirrored
        # in a plain attribute for the syscall path (syscall_entry.py); set after every move.
        self.stopped = False
        # A fork in progress: the main thread's after-unwind hook and, while a grate decides an
        # interposed fork, where the stack unwound (runtime/fork_state.py; set by runtime/fork.py).
        self.forking = ForkState()
        # An exit or exec a grate performed on this cage's behalf, raised into this cage's fiber
        # when the call it waits on returns (see threei/calls.py).
        self.deferred: BaseException | None = None
        # What the main instance runs: ``_start``, or for a vfork child (runtime/vfork.py) the
        # thread entry on the parent's stack until it execs; a fork child re-enters the same.
        self.entry: tuple[str, list[int]] = ("_start", [])
        self.main_task: asyncio.Task[Any] | None = None
        # Its process family and their limits (runtime/limits.py): a child joins its parent's.
        parent = microvisor.cages.get(parent_id)
        self.family: Family = parent.family if parent is not None else Family()
        self.cpu_used = 0.0  # run time charged so far (seconds), for Limits.cpu_time

    # -- state the syscall handlers use ----------
    # The cage's memory, a plain attribute (read by nearly every call, so no property); while
    # the cage has none (not started yet, or ended) it is _NO_MEMORY, whose every use is
    # ``ESRCH``: another cage may name one at that moment (a 3i owner, a copy end).
    mem: GuestMemory = _NO_MEMORY

    @property
    def _mem(self) -> GuestMemory | None:
        mem = self.mem
        return None if mem is _NO_MEMORY else mem

    @_mem.setter
    def _mem(self, memory: GuestMemory | None) -> None:
        self.mem = _NO_MEMORY if memory is None else memory

    @property
    def kill_status(self) -> int | None:
        """The status a fatal signal from outside ends the cage with, once one has."""
        return self.lifecycle.kill_status

    @property
    def vm(self) -> VmMap:
        assert self._vm is not None, "cage vmmap used before start"
        return self._vm

    @property
    def world(self) -> World:
        """What RawPOSIX sees of the microvisor (``rawposix/kernel.py``: ``WorldView``)."""
        return self.microvisor

    @property
    def ops(self) -> CageOps:
        """The process operations RawPOSIX asks this cage's layer for (``runtime/cage_ops.py``)."""
        return CageOps(self)

    # -- the 3i entry point ----------
    def syscall(
        self, number: int, a1: int, a2: int, a3: int, a4: int, a5: int, a6: int
    ) -> SysResult:
        routes = self._routes
        if routes is None:  # the table exists from the cage's first call on (spawn, fork)
            routes = self._routes = self.microvisor.threei.table(self.cage_id)
        route = routes.get(number)
        if route is None:
            route = routes.get(UNKNOWN_CALLS)  # a Python grate that sees unknown numbers
            if route is None or rawposix.has_row(number) or (
                route.handler_cage not in self._python_grates
            ):
                return rawposix.dispatch(self, number, a1, a2, a3, a4, a5, a6)
        return hop(self.microvisor, self, route, number, (a1, a2, a3, a4, a5, a6),
                   self.own_owners, False)

    # -- lifecycle ----------
    async def _start_instance(self) -> LindInstance:
        mv = self.microvisor
        spec = module_spec(self.module)
        if spec.memory is None:
            raise ValueError("module does not import a memory")
        min_pages, max_pages = spec.memory[2], spec.memory[3]
        limit = self.family.limits.memory_pages
        if limit is not None:
            if limit < min_pages:
                raise WasmTrap(
                    f"memory limit of {limit * 65536} bytes is below the program's "
                    f"{min_pages * 65536} bytes of static data and stack"
                )
            max_pages = min(max_pages, limit)
        # A memory an earlier cage of the same memory type and size left (all zeros:
        # wasm/instance_memory.py), else a new one, reserved to its limit at once.
        memory = SharedMemoryHandle.spare(mv.engine, (min_pages, spec.memory[3]), max_pages)
        if memory is None:
            memory = SharedMemoryHandle.for_module(mv.engine, self.module)
            if memory.pages() < max_pages and memory.grow(max_pages - memory.pages()) < 0:
                raise WasmTrap("could not reserve the cage's linear memory")
            memory.reusable = True  # (a spare for a later cage once gone)
        self._mem = GuestMemory(memory)
        if FORK_IMPORT in spec.func_imports:
            with contextlib.suppress(OSError):  # (without one, fork copies the used pages)
                cow.Backing.create(memory, self._mem)  # copy-on-write fork (memory/cow.py)
        instance = None
        try:
            instance = await instantiate(mv.engine, self.module, mv.imports, memory=memory)
            instance.data = self
            heap_base = instance.get_global("__heap_base")
            top = instance.get_global("__stack_pointer")
            ids = (os.getuid(), os.geteuid(), os.getgid(), os.getegid())
            image = build_stack_image(top, self.argv, self.env, random16=os.urandom(16), ids=ids)
            self._mem.write(image.start, image.data)
            instance.set_global("__stack_pointer", image.start)
        except BaseException:  # the program does not start: its memory's snapshot goes now
            cow.release(memory)  # (the address space below is not the cage's yet)
            if instance is not None:
                instance.close()
            raise
        self._vm = VmMap(heap_base, memory.size() & ~0xFFF)
        self.stack_size = top  # --stack-first: the stack spans [0, top)
        if "__tls_base" in instance.spec.globals:
            self.tls_base = instance.get_global("__tls_base")
        instance.preempt_hook = self._at_preemption
        return instance

    async def run(self) -> int:
        """Run the program to its end; returns (and records) the Linux wait status."""
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        self.main_task = task
        if self.kill_status is not None:  # killed before its task first ran (a new child)
            self._finish(self.kill_status)
            return self.kill_status
        try:
            self.instance = await self._start_instance()
            status = await self._run_main()
        except CageExit as done:
            status = done.status
        except WasmTrap as trap:
            status = trap_signal(trap)
            self.microvisor.report(
                f"cage {self.cage_id} ({self.name}) crashed: {trap.report(self.name)}"
            )
        except asyncio.CancelledError:
            if self.kill_status is None:  # cancelled by the embedder: killed, and say so upward
                self._finish(killed(SIGKILL))
                raise
            status = self.kill_status
        except Exception:
            log.exception("cage %d (%s): internal error in a system call", self.cage_id, self.name)
            status = SIGSYS
        self._finish(status)
        return status

    async def _run_main(self) -> int:
        """Run the program; an ``execve`` from a secondary thread arrives as a cancellation of
        this task in the lifecycle's ``EXEC_PENDING`` (see :meth:`exec_from_thread`)."""
        while True:
            try:
                return await self._run_program()
            except asyncio.CancelledError:
                life = self.lifecycle
                if life.phase is not Phase.EXEC_PENDING or life.kill_status is not None:
                    raise
                image = life.end_exec()
                assert isinstance(image, ExecImage)
                task = asyncio.current_task()
                if task is not None and task.uncancel() > 0:
                    raise  # cancelled by the embedder as well
            await self._exec(image)

    async def _run_program(self) -> int:
        """Call the entry; re-enter it after a fork unwound the stack (asyncify rewinds it)."""
        while True:
            assert self.instance is not None
            name, args = self.entry
            try:
                await run_call(self.instance, name, args)
            except ExecImage as image:
                await self._exec(image)
                continue
            except ThreadExit:  # the main thread exited; the others run on
                return await threads.main_thread_exited(self)
            hook = self.forking.take_hook()
            if hook is None:
                return exited(0)
            await hook()

    def exec_from_thread(self, image: ExecImage) -> None:
        """A secondary thread's ``execve`` succeeded (its own task has left the group): end the
        other threads now and have the main task run the new program as the main thread."""
        life = self.lifecycle
        if not life.live or life.kill_status is not None:
            return
        threads.end_other_threads(self)
        life.begin_exec(image)
        self.stopped = life.stopped
        if self.main_task is not None:
            self.main_task.cancel()

    async def _exec(self, image: ExecImage) -> None:
        """Swap in the new program: same cage, fresh memory, cloexec fds closed, 3i table kept.
        Every other thread ends first; the program runs as the cage's main thread."""
        threads.end_other_threads(self)
        self.threads = threads.ThreadGroup()
        self.clear_child_tid = 0
        self.entry = ("_start", [])
        for _, entry in self.fds.items():
            if entry.cloexec and isinstance(entry.file, FileOps):
                locks.fd_closing(self, entry.file)  # closing any fd of a file drops record locks
        for file in self.fds.close_on_exec():
            if isinstance(file, FileOps):
                file.release()
        self.signals.reset_for_exec()
        self.delivery.end_image(in_handler=False)  # an execve from a handler: now in none
        if self.instance is not None:
            self.instance.close()
            self.instance = None
        assert isinstance(image.module, wasmtime.Module)  # what World.load_program made
        self.module, self.argv, self.env = image.module, image.argv, image.env
        self.microvisor.procs.exec(self.cage_id)  # a new program: its own principal now
        self.tls_base = None
        self.drop_shared_mappings()
        try:
            self.instance = await self._start_instance()
        except Exception as exc:  # past the point of no return: the old program is gone
            self.microvisor.report(
                f"cage {self.cage_id} ({self.name}): execve: the new program could not start: "
                f"{exc}"
            )
            raise CageExit(killed(SIGSEGV)) from None  # as Linux's force_fatal_sig(SIGSEGV)

    def drop_shared_mappings(self) -> None:
        """The address space ends (exit, exec): give up its MAP_SHARED anonymous objects."""
        if self._vm is not None:
            faults.unwatch(self._vm)
            shm.release_all(self._vm)
            if self._mem is not None:
                cow.release(self._mem.handle)

    # -- signals and blocking ----------
    async def block_on(self, ready: asyncio.Future[None]) -> None:
        """Wait for ``ready``; a deliverable signal ends the wait with ``EINTR``."""
        if self.signals.deliverable():
            raise GuestError(EINTR)
        self.blocked.add(ready)
        try:
            await ready
        finally:
            self.blocked.discard(ready)

    def interrupt(self) -> None:
        """End the cage's blocking waits with ``EINTR`` (a signal needs delivering)."""
        for ready in list(self.blocked):
            if not ready.done():
                ready.set_exception(GuestError(EINTR))

    def post_signal(
        self, signo: int, sender: int = 0, poll: tuple[int, int, int] | None = None
    ) -> None:
        signals.post(self, signo, sender, poll)

    def terminate(self, status: int) -> None:
        """End the cage from outside its own execution (a fatal signal)."""
        life = self.lifecycle
        if not life.live or life.kill_status is not None:
            return
        life.kill(status)
        for task in list(self.tasks):
            task.cancel()
        if signals.running_cage() is self:
            # Its own wasm is running (it sent SIGKILL to itself or its own group): the
            # cancellations land only when it next waits, and the guest would run on until then
            # (a program that never waited again exited normally). A pending SIGKILL sends the
            # current call's return through signal delivery (``_call`` in
            # runtime/syscall_entry.py), which ends the cage before the guest resumes.
            self.signals.pending |= 1 << (SIGKILL - 1)

    @property
    def is_stopped(self) -> bool:
        return self.stopped

    def stop(self, signo: int) -> None:
        life = self.lifecycle
        if life.stopped or not life.live:
            return
        life.stop()
        self.stopped = True
        self._continued.clear()
        self.microvisor.child_state_changed(self, self.microvisor.procs.stop(self.cage_id, signo))

    def resume(self) -> None:
        life = self.lifecycle
        if not life.stopped:
            return
        life.resume()
        self.stopped = False
        self._continued.set()
        self.microvisor.child_state_changed(self, self.microvisor.procs.resume(self.cage_id))

    async def wait_while_stopped(self) -> None:
        if self.is_stopped:
            await self._continued.wait()

    async def _at_preemption(self) -> None:
        budget = self.family.limits.cpu_time
        if budget is not None:
            self.cpu_used += self.microvisor.engine.config.time_slice
            if self.cpu_used >= budget:
                self.terminate(killed(SIGXCPU))
                await asyncio.sleep(0)  # the cancellation terminate() sent ends this fiber here
        if signals.pending_for(self):
            await signals.at_preemption(self)

    @property
    def name(self) -> str:
        return os.fsdecode(self.argv[0]) if self.argv else "?"

    def _finish(self, status: int) -> None:
        if not self.lifecycle.live:
            return
        self.lifecycle.exit(status)
        self.status = status  # mirrored, as ``stopped`` is: read on every grate hop
        current = asyncio.current_task()
        for task in list(self.tasks):  # every other fiber of the cage (its threads) ends too
            if task is not current:
                task.cancel()
        for file in self.fds.close_all():
            if isinstance(file, FileOps):
                file.release()
        instance, self.instance = self.instance, None
        if self.alarm is not None:
            self.alarm[0].cancel()
            self.alarm = None
        self.delivery.end_image()
        self.drop_shared_mappings()
        sysv_sem.process_exited(self)
        self._mem = None
        # Its Store and instance serve the next fork child of the same module if they may
        # (scrubbed first: wasm/instance_reuse.py); a killed cage's are closed.
        if instance is not None and not (status & 0x7F == 0 and instance_reuse.keep(instance)):
            instance.close()
        self.stopped = False
        self._continued.set()
        self.exited.set()
        self.microvisor.cage_exited(self)


def describe_status(status: int) -> str:
    """``exited 3`` / ``killed by signal 11`` for a Linux wait status."""
    if status & 0x7F == 0:
        return f"exited {(status >> 8) & 0xFF}"
    return f"killed by signal {status & 0x7F}"


def shell_status(status: int) -> int:
    """The exit status a shell reports: the exit code, or 128+N when killed by signal N."""
    if status & 0x7F == 0:
        return (status >> 8) & 0xFF
    return 128 + (status & 0x7F)
