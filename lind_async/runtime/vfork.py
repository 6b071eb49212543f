"""vfork-style children without asyncify: ``clone(CLONE_VM[|CLONE_VFORK])`` as a new cage.

Theory of operation
-------------------
musl's ``posix_spawn`` (and anything else calling ``__clone`` without ``CLONE_THREAD``) asks for a
child that *shares the parent's memory* and runs a function on a stack the parent provides::

    __clone(child, stack, CLONE_VM|CLONE_VFORK|SIGCHLD, &args)

That is a thread's start (runtime/threads.py) with a process's identity, so the child is run the
way a thread is — **a new instance of the module over the parent's shared memory**, its
``__stack_pointer`` at ``stack``, the caller's ``__tls_base`` (so the caller's thread pointer and
``errno``: a vfork child borrows its parent's thread as on Linux), entering the guest export
``__lind_thread_start(func, arg, 0)`` — but the instance's ``data`` is a **new cage**
(:class:`VforkCage`): its own cage id and pid, ``parent_id`` the caller's cage, its own copy of the
fd table (``posix_spawn``'s file actions run in the child and touch only it), cwd, umask, signal
dispositions (mask: the calling thread's), and a fork of the caller's 3i table. Its linear memory
and vmmap are the parent's objects (``CLONE_VM``): every system call acts on the child cage and
reads and writes the shared memory.

``CLONE_VFORK``: the parent's ``clone`` returns an awaitable that waits until the child
*releases* it — on a successful ``execve`` (the child's run raises ``ExecImage`` as any cage's
does; the release happens as soon as its wasm has stopped, before the exec path gives the cage a
fresh memory, vmmap and instance through :meth:`Cage._exec`), or when the child ends (``_exit``,
a crash, a kill). Only the calling thread waits (its fiber); the parent's other threads run on,
as on Linux. Without ``CLONE_VFORK`` the parent continues at once and both run over the memory.

``vfork()`` itself stays ``fork()`` in lind-musl (guest ``src/process/vfork.c``, which POSIX
allows): a function that returns twice on one stack needs asyncify's unwind/rewind, which fork
already does; a vfork on shared memory would only save the memory copy.

Limits: the child gets one instance (the clone's) until it execs; ``fork`` from it forks the
shared image; ``clear_child_tid``/``CLONE_SETTLS`` are not applied to a process child.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lind_async.abi.errno import EAGAIN
from lind_async.memory import GuestMemory
from lind_async.runtime.cage import Cage
from lind_async.wasm.instance import LindInstance

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import ExecImage


CLONE_VFORK = 0x00004000
CLONE_PARENT_SETTID = 0x00100000
CLONE_CHILD_SETTID = 0x01000000
THREAD_ENTRY = "__lind_thread_start"


class VforkCage(Cage):
    """A child made by ``clone(CLONE_VM…)``: runs on the parent's memory until it execs."""

    def __init__(self, parent: Cage, cage_id: int, instance: LindInstance, blocked: int,
                 call: tuple[int, int]) -> None:
        super().__init__(parent.microvisor, cage_id, parent.cage_id, parent.module, parent.argv,
                         parent.env, parent.fds.fork(), parent.cwd)
        self.umask = parent.umask
        self.signals = parent.signals.fork()
        self.signals.set_mask(blocked)
        self.stack_size = parent.stack_size
        self._vm = parent.vm  # CLONE_VM: mappings and the break are the parent's
        self._first: LindInstance | None = instance
        self.entry = (THREAD_ENTRY, [call[0], call[1], 0])
        self.released = asyncio.Event()  # the parent's clone(CLONE_VFORK) waits for this

    def release(self) -> None:
        """The child stopped using the parent's memory (exec, or its end)."""
        self.released.set()

    async def _start_instance(self) -> LindInstance:
        instance, self._first = self._first, None
        if instance is None:  # a new program image (execve): its own memory, as any cage
            return await super()._start_instance()
        instance.data = self
        instance.preempt_hook = self._at_preemption
        self._mem = GuestMemory(instance.memory)
        if "__tls_base" in instance.spec.globals:
            self.tls_base = instance.get_global("__tls_base")
        return instance

    async def _exec(self, image: ExecImage) -> None:
        if not self.released.is_set():
            self.release()  # its wasm has stopped: the parent may run again
            self._vm = None
        await super()._exec(image)

    def drop_shared_mappings(self) -> None:
        if self.released.is_set():  # until then the memory map is the parent's
            super().drop_shared_mappings()

    def _finish(self, status: int) -> None:
        super()._finish(status)
        self.release()


async def clone_vm(
    cage: Cage,
    parent: LindInstance,
    flags: int,
    sp: int,
    ptid: int,
    ctid: int,
    call: tuple[int, int],
    blocked: int,
) -> int:
    """The parent's side of ``clone(CLONE_VM…)`` without ``CLONE_THREAD``: the child's pid, once
    the child released the parent (``CLONE_VFORK``), or at once."""
    mv = cage.microvisor
    if not mv.may_add_process(cage):
        return -EAGAIN
    from lind_async.runtime.threads import sibling_instance

    instance = await sibling_instance(cage, parent, sp, "a vfork child")
    if instance is None:
        return -EAGAIN
    child = VforkCage(cage, mv.new_id(), instance, blocked, call)
    instance.data = child
    if ptid:
        cage.mem.write_u32(ptid, child.cage_id)
    if flags & CLONE_CHILD_SETTID:
        cage.mem.write_u32(ctid, child.cage_id)
    mv.threei.fork(cage.cage_id, child.cage_id)
    mv.start(child)
    if flags & CLONE_VFORK:
        await child.released.wait()
    return child.cage_id
