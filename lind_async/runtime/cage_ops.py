"""The process layer's side of the kernel interface: :class:`CageOps` carries out, for one cage,
the operations RawPOSIX's handlers ask for but cannot do themselves (``rawposix/kernel.py``:
:class:`~lind_async.rawposix.kernel.ProcessOps`) — they need wasm instances, fibers and tasks."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi.errno import ENOSYS, GuestError
from lind_async.memory import faults
from lind_async.runtime import threads

if TYPE_CHECKING:
    import wasmtime

    from lind_async.runtime.cage import Cage


class CageOps:
    """Process operations for one cage (see the module docstring)."""

    __slots__ = ("_cage",)

    def __init__(self, cage: Cage) -> None:
        self._cage = cage

    def fork(self) -> int:
        """A grate forwarded this cage's fork: make the child from where the cage's stack unwound
        (``runtime/fork.py`` records it while the grate decides)."""
        cage = self._cage
        real = cage.microvisor.cages.get(cage.cage_id)
        point = real.forking.take_point() if real is not None else None  # one child per fork()
        if real is None or point is None:
            raise GuestError(ENOSYS)  # a direct fork never reaches the syscall table
        return real.microvisor.fork(real, *point).cage_id

    def clone(
        self, flags: int, sp: int, ptid: int, ctid: int, entry: tuple[int, int], tls: int,
        blocked: int,
    ) -> int | Awaitable[int]:
        return threads.clone(self._cage, flags, sp, ptid, ctid, entry, tls, blocked)

    def has_thread_entry(self) -> bool:
        return threads.has_thread_entry(self._cage)

    def memory_limit(self) -> int | None:
        instance = self._cage.instance
        return instance.memory.max_bytes if instance is not None else None

    def program(self) -> wasmtime.Module:
        return self._cage.module

    def guard_memory(self) -> None:
        """This cage's memory maps a file shared: guard it, so touching a page the file no longer
        covers is this cage's ``SIGBUS`` (``memory/faults.py``)."""
        cage = self._cage
        faults.watch(cage.vm, cage.mem, cage)
