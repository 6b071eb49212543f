"""A cage: one program's process state, and the task that runs it.

Theory of operation
-------------------
A :class:`Cage` owns everything a Linux process would: its wasm instance (one Store, the main
fiber), linear memory and the bounds-checked accessor over it, fd table, cwd, vmmap, signal state
and identity. Its task (:meth:`Cage.run`) instantiates the module, lays out the initial stack image,
calls ``_start`` through :func:`lind_async.runtime.fiber.run_call` and turns however the call ends
into a Linux wait status:

- ``exit``/``exit_group`` raise :class:`~lind_async.rawposix.proc.CageExit` inside the handler;
  the fiber layer unwinds the wasm stack with a trap and re-raises it here: ``code << 8``;
- a wasm trap is the *cage's* crash, never the microvisor's: the status is "killed by" the signal
  the same fault raises natively (``SIGSEGV`` for memory faults and bad indirect calls, ``SIGILL``
  for ``unreachable``/``__builtin_trap``, ``SIGFPE`` for integer faults) and one line is logged;
- any other exception escaping a handler is a RawPOSIX bug: logged with its traceback, the cage
  is killed (``SIGSYS``) and every other cage carries on.

Every system call enters at :meth:`Cage.syscall`: 3i looks up the cage's own routing table
(DESIGN section 4); with no route the call goes to RawPOSIX's table.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import wasmtime

from lind_async.core.fdtable import FdTable
from lind_async.core.signals import SignalState
from lind_async.core.vmmap import VmMap
from lind_async.memory import GuestMemory
from lind_async.rawposix import table as rawposix
from lind_async.rawposix.files import FileOps
from lind_async.rawposix.proc import CageExit
from lind_async.runtime.fiber import WasmTrap, run_call
from lind_async.runtime.instance import LindInstance, instantiate
from lind_async.runtime.process_image import build_stack_image

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.microvisor import Microvisor

log = logging.getLogger("lind_async.cage")

SIGILL, SIGFPE, SIGSEGV, SIGSYS = 4, 8, 11, 31

_TRAP_SIGNALS = {
    wasmtime.TrapCode.UNREACHABLE: SIGILL,
    wasmtime.TrapCode.INTEGER_DIVISION_BY_ZERO: SIGFPE,
    wasmtime.TrapCode.INTEGER_OVERFLOW: SIGFPE,
    wasmtime.TrapCode.BAD_CONVERSION_TO_INTEGER: SIGFPE,
}


def trap_signal(trap: WasmTrap) -> int:
    """The signal a native process would have died of for the same fault."""
    if trap.code is None:
        return SIGSEGV
    return _TRAP_SIGNALS.get(trap.code, SIGSEGV)


class Cage:
    """One sandboxed process."""

    def __init__(
        self,
        microvisor: Microvisor,
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
        self.instance: LindInstance | None = None
        self._mem: GuestMemory | None = None
        self._vm: VmMap | None = None
        self.status: int | None = None  # Linux wait status once exited
        self.exited = asyncio.Event()
        self._route = microvisor.threei.route

    # -- state the syscall handlers use ----------
    @property
    def mem(self) -> GuestMemory:
        assert self._mem is not None, "cage memory used before start"
        return self._mem

    @property
    def vm(self) -> VmMap:
        assert self._vm is not None, "cage vmmap used before start"
        return self._vm

    # -- the 3i entry point ----------
    def syscall(
        self, number: int, a1: int, a2: int, a3: int, a4: int, a5: int, a6: int
    ) -> SysResult:
        route = self._route(self.cage_id, number)
        if route is None:
            return rawposix.dispatch(self, number, a1, a2, a3, a4, a5, a6)
        return self.microvisor.call_grate(self, route, number, (a1, a2, a3, a4, a5, a6))

    # -- lifecycle ----------
    async def _start_instance(self) -> LindInstance:
        mv = self.microvisor
        instance = await instantiate(mv.engine, self.module, mv.imports)
        instance.data = self
        memory = instance.memory
        max_pages = memory.max_pages
        if memory.pages() < max_pages and memory.grow(max_pages - memory.pages()) < 0:
            raise WasmTrap("could not reserve the cage's linear memory")
        self._mem = GuestMemory(memory)
        heap_base = instance.get_global("__heap_base")
        self._vm = VmMap(heap_base, memory.size() & ~0xFFF)
        top = instance.get_global("__stack_pointer")
        ids = (os.getuid(), os.geteuid(), os.getgid(), os.getegid())
        image = build_stack_image(top, self.argv, self.env, random16=os.urandom(16), ids=ids)
        self._mem.write(image.start, image.data)
        instance.set_global("__stack_pointer", image.start)
        return instance

    async def run(self) -> int:
        """Run the program to its end; returns (and records) the Linux wait status."""
        try:
            self.instance = await self._start_instance()
            await run_call(self.instance, "_start", [])
            status = 0
        except CageExit as done:
            status = done.status
        except WasmTrap as trap:
            status = trap_signal(trap)
            self.microvisor.report(f"cage {self.cage_id} ({self.name}) crashed: {trap.message}")
        except asyncio.CancelledError:
            self._finish(9)  # SIGKILL
            raise
        except Exception:
            log.exception("cage %d (%s): internal error in a system call", self.cage_id, self.name)
            status = SIGSYS
        self._finish(status)
        return status

    @property
    def name(self) -> str:
        return os.fsdecode(self.argv[0]) if self.argv else "?"

    def _finish(self, status: int) -> None:
        if self.status is not None:
            return
        self.status = status
        for file in self.fds.close_all():
            if isinstance(file, FileOps):
                file.release()
        if self.instance is not None:
            self.instance.close()
            self.instance = None
        self._mem = None
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
