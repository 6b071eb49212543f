"""The kernel interface: everything RawPOSIX needs from the process layer above it.

Theory of operation
-------------------
RawPOSIX's handlers take a cage and six raw argument slots. They never see the concrete cage
(``runtime/cage.py``, which knows wasmtime, fibers and tasks): they see :class:`CageView`, a
Protocol of the cage's *state* — its checked memory, fd table, vmmap, signal state, identity,
cwd and umask — plus :meth:`CageView.block_on` (the one way a handler waits, so a signal can end
the wait with ``EINTR``) and :attr:`CageView.ops`, a handle for the operations only the process
layer can carry out (fork, clone, thread exit, exec's program load, signal posting). The world a
cage lives in (its root, process table, authority, limits) is :class:`WorldView`.

The interface is owned by its consumer (RawPOSIX), as ports are in a ports-and-adapters design:
``lind_async.runtime`` implements it and imports RawPOSIX, and RawPOSIX imports nothing of the
runtime. A fake cage over a ``bytearray`` (``tests/unit/rawposix``) satisfies the same Protocol,
so handlers are tested without wasm.

Control flow that must leave a handler for the process layer is an exception declared here:
:class:`CageExit` (the cage ends with a wait status) and :class:`ThreadExit` (only the calling
thread ends).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lind_async.core.fdtable import FdTable
    from lind_async.core.proctable import ProcTable
    from lind_async.core.signals import SignalState
    from lind_async.core.vmmap import VmMap
    from lind_async.memory import GuestMemory
    from lind_async.rawposix.blocking import WaitQueue
    from lind_async.rawposix.confine import HostRoot
    from lind_async.rawposix.host_unix import Policy
    from lind_async.threei.authority import Authority


class CageExit(BaseException):
    """Raised by ``exit``/``exit_group`` (and fatal signals) to unwind the cage's fiber.

    A ``BaseException`` so that no ``except Exception`` in a handler swallows it.
    """

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status  # Linux wait status


class ThreadExit(BaseException):
    """Raised inside ``exit`` to end only the calling thread (not the cage)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class ExecImage(BaseException):
    """Raised by a successful ``execve`` to replace the running program: ``module`` is what
    :meth:`WorldView.load` made (opaque here), with the new argument and environment vectors."""

    def __init__(self, module: object, argv: list[bytes], env: list[bytes]) -> None:
        super().__init__("execve")
        self.module = module
        self.argv = argv
        self.env = env


class ModuleUnloadable(Exception):
    """:meth:`WorldView.load` was given bytes that are not a runnable cage module."""


class ThreadView(Protocol):
    """A secondary thread's own state (the main thread's lives on the cage)."""

    tid: int
    clear_child_tid: int
    robust_list: int
    signals: SignalState


class ThreadsView(Protocol):
    """A cage's thread group."""

    main_alive: bool
    main_robust_list: int

    def live(self) -> int: ...

    def calling(self) -> ThreadView | None:
        """The secondary thread whose call is being handled; None for the main thread."""
        ...

    def remove(self, thread: ThreadView | None) -> None:
        """The thread (None: the main one) stops counting as live."""
        ...

    def by_tid(self, tid: int) -> ThreadView | None: ...


class WorldView(Protocol):
    """What the cages of one microvisor share: the root, the process table, the authority."""

    root: HostRoot
    procs: ProcTable
    authority: Authority
    max_cages: int
    host_unix_sockets: Policy  # which named AF_UNIX sockets host processes may reach

    @property
    def cages(self) -> Mapping[int, CageView]:
        """The live cages of this world by id."""
        ...

    def load_program(self, program: bytes) -> object:
        """A compiled module for ``program``; :class:`ModuleUnloadable` when it is none."""
        ...

    def child_waits(self, pid: int) -> WaitQueue:
        """Where ``wait4`` callers of process ``pid`` wait for a child to change state."""
        ...


class ProcessOps(Protocol):
    """Process operations only the layer that runs wasm can carry out."""

    def fork(self) -> int | Awaitable[int]:
        """``fork`` forwarded by a grate (the cage's own fork unwinds through ``lind.fork``)."""
        ...

    def clone(
        self, flags: int, sp: int, ptid: int, ctid: int, entry: tuple[int, int], tls: int,
        blocked: int,
    ) -> int | Awaitable[int]:
        """Start a thread (``CLONE_THREAD``) or a new cage on this memory (``CLONE_VM``)."""
        ...

    def has_thread_entry(self) -> bool:
        """Whether the running program was linked with lind-musl's threads."""
        ...

    def guard_memory(self) -> None:
        """The cage's memory now maps a file shared: a touch past the file's end must become the
        cage's ``SIGBUS``, not the microvisor's crash."""
        ...

    def memory_limit(self) -> int | None:
        """The most bytes the cage's linear memory may grow to (None: no limit)."""
        ...

    def program(self) -> object:
        """The compiled module the cage runs now (``execve`` of ``/proc/self/exe``)."""
        ...


class CageView(Protocol):
    """One cage as RawPOSIX's handlers see it."""

    cage_id: int
    parent_id: int
    argv: list[bytes]
    env: list[bytes]
    fds: FdTable
    cwd: bytes
    umask: int
    signals: SignalState
    sender: dict[int, int]
    clear_child_tid: int
    stack_size: int
    alarm: tuple[asyncio.TimerHandle, int] | None
    exited: asyncio.Event

    @property
    def status(self) -> int | None:
        """The Linux wait status once the cage has exited."""
        ...

    @property
    def mem(self) -> GuestMemory: ...

    @property
    def vm(self) -> VmMap: ...

    @property
    def world(self) -> WorldView: ...

    @property
    def threads(self) -> ThreadsView: ...

    @property
    def ops(self) -> ProcessOps: ...

    async def block_on(self, ready: asyncio.Future[None]) -> None: ...

    def post_signal(
        self, signo: int, sender: int = 0, poll: tuple[int, int, int] | None = None
    ) -> None:
        """Send ``signo``; ``poll``: a signal-driven I/O notice's si_code, si_band and si_fd."""
        ...

    def interrupt(self) -> None: ...

