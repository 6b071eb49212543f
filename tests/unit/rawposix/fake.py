"""A cage without wasm: RawPOSIX's kernel interface (``rawposix/kernel.py``) over plain memory.

:class:`FakeCage` is a :class:`~lind_async.rawposix.kernel.CageView` whose linear memory is an
anonymous host mapping (page-aligned and private, as a wasm memory's pages are), with a real
:class:`FdTable`, :class:`VmMap` and :class:`SignalState`. Its world (:class:`FakeWorld`) has a
real :class:`HostRoot` over a test directory, a real :class:`ProcTable` and :class:`Authority`.
What only the process layer can do (fork, clone, exec's program load) is refused by
:class:`FakeOps`; a signal sent to a fake cage is recorded in :attr:`FakeCage.posted` and left
pending in its signal state (nothing runs a guest handler).

Tests drive real handlers through :func:`lind_async.rawposix.table.dispatch`, the one place a
handler's ``GuestError``/``OSError`` becomes ``-errno``, with :meth:`FakeCage.call` (a call that
completes now) or :meth:`FakeCage.acall` (one that may wait). Arguments live in a scratch area at
the bottom of memory (:meth:`FakeCage.put`, :meth:`FakeCage.cstr`).
"""

from __future__ import annotations

import asyncio
import ctypes
import mmap
import os
import struct
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

from lind_async.abi.errno import EINTR, ENOSYS, GuestError
from lind_async.core.fdtable import FdTable
from lind_async.core.proctable import ProcTable
from lind_async.core.signals import SignalState
from lind_async.core.vmmap import VmMap
from lind_async.memory import GuestMemory
from lind_async.rawposix import table
from lind_async.rawposix.blocking import WaitQueue
from lind_async.rawposix.confine import HostRoot
from lind_async.rawposix.kernel import ModuleUnloadable
from lind_async.threei.authority import Authority, InFlight
from lind_async.threei.tables import ThreeI

if TYPE_CHECKING:
    from lind_async.rawposix.host_unix import Policy
    from lind_async.rawposix.kernel import CageView, ProcessOps, ThreadsView, ThreadView, WorldView

MEMORY_SIZE = 4 << 20  # 4 MiB of linear memory
HEAP_START = 1 << 20  # the vmmap's break starts here; below it: the scratch area
SCRATCH = 0x1000  # first scratch address (page 0 stays unused, as NULL)


class HostMemory:
    """A page-aligned private anonymous host mapping as linear memory (a ``LinearMemory``)."""

    def __init__(self, size: int) -> None:
        self._map = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._array = (ctypes.c_ubyte * size).from_buffer(self._map)
        self._size = size

    @property
    def base(self) -> int:
        return ctypes.addressof(self._array)

    def size(self) -> int:
        return self._size


class FakeThreads:
    """A thread group of one: the main thread."""

    def __init__(self) -> None:
        self.main_alive = True
        self.main_robust_list = 0

    def live(self) -> int:
        return 1 if self.main_alive else 0

    def calling(self) -> ThreadView | None:
        return None

    def remove(self, thread: ThreadView | None) -> None:
        if thread is None:
            self.main_alive = False

    def by_tid(self, tid: int) -> ThreadView | None:
        return None


class FakeOps:
    """The process layer's operations: none of them here (``ENOSYS``)."""

    def fork(self) -> int:
        raise GuestError(ENOSYS)

    def clone(
        self, flags: int, sp: int, ptid: int, ctid: int, entry: tuple[int, int], tls: int,
        blocked: int,
    ) -> int:
        raise GuestError(ENOSYS)

    def has_thread_entry(self) -> bool:
        return False

    def guard_memory(self) -> None:
        pass

    def memory_limit(self) -> int | None:
        return None

    def program(self) -> object:
        raise GuestError(ENOSYS)


class FakeWorld:
    """The world fake cages share: a root over ``root_dir``, a process table, an authority."""

    def __init__(self, root_dir: str | os.PathLike[str]) -> None:
        self.root = HostRoot(root_dir)
        self.procs = ProcTable()
        self.threei = ThreeI()
        self.authority = Authority(self.procs, self.threei, InFlight())
        self.max_cages = 64
        self.host_unix_sockets: Policy = False
        self._cages: dict[int, FakeCage] = {}
        self._child_waits: dict[int, WaitQueue] = {}

    @property
    def cages(self) -> Mapping[int, CageView]:
        return self._cages

    def cage(self, cage_id: int, parent_id: int = 0) -> FakeCage:
        """A new cage in this world (a child of ``parent_id`` when it is one of the world's)."""
        cage = FakeCage(self, cage_id, parent_id)
        self.procs.add(cage_id, parent_id)
        self._cages[cage_id] = cage
        return cage

    def load_program(self, program: bytes) -> object:
        raise ModuleUnloadable("the fake world runs no programs")

    def child_waits(self, pid: int) -> WaitQueue:
        return self._child_waits.setdefault(pid, WaitQueue())

    def close(self) -> None:
        for cage in self._cages.values():
            cage.close()
        self.root.close()


class FakeCage:
    """One cage's state as RawPOSIX's handlers see it, with helpers for tests."""

    def __init__(self, world: FakeWorld, cage_id: int, parent_id: int = 0) -> None:
        self.cage_id = cage_id
        self.parent_id = parent_id
        self.argv: list[bytes] = [b"fake"]
        self.env: list[bytes] = []
        self.fds = FdTable()
        self.cwd = b"/"
        self.umask = 0o022
        self.signals = SignalState()
        self.sender: dict[int, int] = {}
        self.clear_child_tid = 0
        self.stack_size = HEAP_START
        self.alarm: tuple[asyncio.TimerHandle, int] | None = None
        self.exited = asyncio.Event()
        self.status: int | None = None
        self.posted: list[tuple[int, int]] = []  # (signo, sender) of every signal sent here
        self._world = world
        self._memory = HostMemory(MEMORY_SIZE)
        self._mem = GuestMemory(self._memory)
        self._vm = VmMap(HEAP_START, MEMORY_SIZE)
        self._threads = FakeThreads()
        self._ops = FakeOps()
        self._blocked: set[asyncio.Future[None]] = set()
        self._next = SCRATCH

    # -- CageView -----------------------------------------------------------------------------
    @property
    def mem(self) -> GuestMemory:
        return self._mem

    @property
    def vm(self) -> VmMap:
        return self._vm

    @property
    def world(self) -> WorldView:
        return self._world

    @property
    def threads(self) -> ThreadsView:
        return self._threads

    @property
    def ops(self) -> ProcessOps:
        return self._ops

    async def block_on(self, ready: asyncio.Future[None]) -> None:
        if self.signals.deliverable():
            raise GuestError(EINTR)
        self._blocked.add(ready)
        try:
            await ready
        finally:
            self._blocked.discard(ready)

    def post_signal(
        self, signo: int, sender: int = 0, poll: tuple[int, int, int] | None = None
    ) -> None:
        self.posted.append((signo, sender))
        self.sender[signo] = sender
        self.signals.pending |= 1 << (signo - 1)
        if self.signals.deliverable():
            self.interrupt()

    def interrupt(self) -> None:
        for ready in list(self._blocked):
            if not ready.done():
                ready.set_exception(GuestError(EINTR))

    # -- for tests ----------------------------------------------------------------------------
    def call(self, number: int, *args: int) -> int:
        """System call ``number`` through the table; it must complete without waiting."""
        result = self._dispatch(number, args)
        assert isinstance(result, int), f"syscall {number} would wait"
        return result

    async def acall(self, number: int, *args: int) -> int:
        """System call ``number`` through the table, awaited if it waits."""
        result = self._dispatch(number, args)
        return result if isinstance(result, int) else await result

    def _dispatch(self, number: int, args: tuple[int, ...]) -> int | Awaitable[int]:
        table.load()
        a = (*args, *(0,) * (6 - len(args)))
        return table.dispatch(self, number, a[0], a[1], a[2], a[3], a[4], a[5])

    def alloc(self, length: int, align: int = 8) -> int:
        """A zeroed scratch range of ``length`` bytes (below the heap)."""
        addr = -(-self._next // align) * align
        if addr + length > HEAP_START:
            raise MemoryError("fake cage scratch area exhausted")
        self._next = addr + length
        self._mem.fill(addr, length)
        return addr

    def put(self, data: bytes) -> int:
        """Copy ``data`` into scratch memory; its address."""
        addr = self.alloc(len(data))
        self._mem.write(addr, data)
        return addr

    def cstr(self, text: bytes) -> int:
        return self.put(text + b"\0")

    def read(self, addr: int, length: int) -> bytes:
        return self._mem.read(addr, length)

    def unpack(self, fmt: str, addr: int) -> tuple[int, ...]:
        return struct.unpack_from(fmt, self._mem.read(addr, struct.calcsize(fmt)))

    def close(self) -> None:
        """Release every descriptor (host fds included)."""
        for vfd, _ in list(self.fds.items()):
            self.call(3, vfd)  # close
