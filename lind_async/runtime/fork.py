"""fork: copy a running cage with Binaryen Asyncify.

Theory of operation
-------------------
A wasmtime fiber cannot be copied, so a forking cage *unwinds its own wasm stack into linear
memory*, gets copied while no wasm of it runs, and both copies *rewind* back into the
``lind.fork`` call. The toolchain (``toolchain/binaryen.py``) runs Asyncify on every module that
imports ``lind.fork`` with that import as the only one that may unwind, and exports the asyncify
functions and its two globals (``__asyncify_state``: 0 normal, 1 unwinding, 2 rewinding;
``__asyncify_data``: address of ``{current, end}`` followed by the saved frames).

1. The guest's ``fork()`` → ``_Fork`` calls the sync import ``lind.fork`` (:func:`fork_import`).
   State normal: it reserves the cage's asyncify buffer (a mapping in the cage's vmmap, once per
   cage, inherited by children at the same address), sets ``{current, end}`` and switches the
   state to *unwinding* — exactly what the exported ``asyncify_start_unwind`` does; the import sets
   the globals itself because a host function cannot call back into its own async Store. It
   arms ``cage.forking.after_unwind`` (``runtime/fork_state.py``) and returns.
2. Every instrumented frame saves its locals into the buffer and returns, so the ``_start`` call
   of ``Cage._run_main`` returns normally and the cage runs the hook (:func:`_after_unwind`):
   ``asyncify_stop_unwind``; ``World.fork`` builds the child — new cage id, ``parent_id`` =
   the parent, a NEW shared memory whose private ranges are copy-on-write copies of the
   parent's (``memory/cow.py``: the parent's contents become a memfd snapshot both map
   ``MAP_PRIVATE``; the vmmap names the used ranges where pages written since the last fork are
   looked for; a memory without a snapshot gets its touched used pages copied,
   ``memory/copy.py``), the
   exported mutable globals (``__stack_pointer``, ``__tls_base``, …) as they were at the unwind,
   fd table ``fork()`` (shared open file descriptions), 3i table, signal state, cwd, umask,
   vmmap copy (so ``brk`` too; its ``MAP_SHARED`` anonymous mappings are not copied but the same
   host objects mapped again at the same addresses, rawposix/shm.py) — and starts it as its own
   task.
3. Parent and child each enter ``asyncify_start_rewind(buf)`` and call ``_start`` again; the
   frames restore their locals and re-issue the ``lind.fork`` call, which now sees *rewinding*:
   it does ``asyncify_stop_rewind`` and returns the child's pid (parent) or 0 (child).

The copy is taken synchronously inside the hook (no ``await``), so no other wasm of this cage
(another thread) can change memory while it is copied. The child's Store + Instance is made in
the child's own task (:class:`ForkedCage`), so the parent resumes without waiting for it.

Threads. Any thread may fork (POSIX: the child has a copy of the forking thread only). The
forking instance is the one that unwinds — the main instance (whose task re-enters ``_start``) or
a secondary thread's (whose task, ``threads._run_thread``, re-enters ``__lind_thread_start`` with
the same arguments); the child's single instance copies *that* instance's globals and rewinds
through the same entry (``Cage.entry``), so in the child the forking thread is the main thread
(musl's ``_Fork`` gives it the child's pid as tid). The parent's other threads keep running
while the forking one unwinds and rewinds. One asyncify buffer per cage: a second thread calling
fork while another's fork is between its unwind and its rewind gets ``EAGAIN``.

Limits: a signal handler run on the signal instance (delivered at a preemption point to a
thread that reached no signal poll within a time slice, or to a module built before handlers ran
on the guest's stack) cannot fork (``ENOSYS``); one run by libc on the thread's stack
(``runtime/guest_signals.py``: at a call's return, or at a loop header's signal poll in a
program that forks, ``toolchain/signal_poll.py``) forks like any code; the
asyncify buffer (:data:`BUFFER_SIZE`) bounds how deep the stack may be at the fork
(overflowing it traps); a program's own exception handling (setjmp) between ``_start`` and
``fork`` is not unwound by Asyncify (Binaryen does not support it).

Measured (2-core dev machine; ``benchmarks/bench_fork.py``): see docs/decisions.md.
"""

from __future__ import annotations

import dataclasses
import mmap
import weakref
from typing import TYPE_CHECKING

from lind_async.abi.errno import EAGAIN, ENOMEM, ENOSYS, GuestError, to_negative_errno
from lind_async.abi.syscalls import SYS_fork
from lind_async.core.vmmap import VmMap
from lind_async.memory import GuestMemory, cow, faults
from lind_async.memory.copy import copy_used
from lind_async.rawposix import shm
from lind_async.runtime.cage import Cage
from lind_async.runtime.signals import SignalDelivery
from lind_async.threei.route import call_grate
from lind_async.wasm import instance_reuse
from lind_async.wasm.instance import LindInstance, SharedMemoryHandle, instantiate

if TYPE_CHECKING:
    from lind_async.runtime.world import World

NORMAL, UNWINDING, REWINDING = 0, 1, 2
STATE, DATA = "__asyncify_state", "__asyncify_data"
ASYNCIFY_GLOBALS = frozenset({STATE, DATA})

BUFFER_SIZE = 1 << 20
"""Bytes for the saved frames. Pages the unwind never touches cost nothing (nor are copied)."""

_PROT_RW = 3
_HOST_PAGE = mmap.PAGESIZE

# Per cage: the asyncify buffer's address (with the address space it is mapped in: an exec
# starts a new one), and the instance whose fork is using it now (from its unwind to the end of
# its rewind); per forking instance: what the pending rewind returns.
_buffers: weakref.WeakKeyDictionary[Cage, tuple[VmMap, int]] = weakref.WeakKeyDictionary()
_busy: weakref.WeakKeyDictionary[Cage, LindInstance] = weakref.WeakKeyDictionary()
_results: weakref.WeakKeyDictionary[LindInstance, int] = weakref.WeakKeyDictionary()


class ForkError(RuntimeError):
    """The guest's asyncify state is not what fork expects (a broken or hostile module)."""


# ------------------------------------------------------------------------------ the import
def fork_import(instance: LindInstance, args: tuple[int, ...]) -> int:
    """``lind.fork() -> i64`` (sync): start the unwind, or finish the rewind."""
    cage = instance.data
    if not isinstance(cage, Cage):
        return -ENOSYS
    thread = None
    if cage.instance is not instance:
        thread = cage.threads.by_instance.get(instance)
        if thread is None:
            return -ENOSYS  # a signal handler: not supported
    state = instance.get_global(STATE)
    if state == REWINDING:
        instance.set_global(STATE, NORMAL)  # = asyncify_stop_rewind
        result = _results.pop(instance, None)
        if result is None:
            raise ForkError("lind.fork rewound with no fork in progress")
        if _busy.get(cage) is instance:
            del _busy[cage]
        return result
    if state != NORMAL:
        raise ForkError(f"lind.fork called in asyncify state {state}")
    mv = cage.microvisor
    if not mv.may_add_process(cage) or cage in _busy:
        return -EAGAIN  # (another thread's fork is using the buffer right now)
    try:
        buf = _buffer(cage)
    except GuestError as exc:  # no room in the address space for the fork buffer
        return to_negative_errno(exc, fallback=ENOMEM)
    _busy[cage] = instance
    mem = cage.mem
    mem.write_u32(buf, buf + 8)  # {current, end}: asyncify_start_unwind's buffer header
    mem.write_u32(buf + 4, buf + BUFFER_SIZE)
    instance.set_global(DATA, buf)
    instance.set_global(STATE, UNWINDING)  # = asyncify_start_unwind(buf)

    if thread is None:
        entry, blocked = cage.entry, cage.signals.blocked
    else:
        entry, blocked = thread.entry, thread.signals.blocked

    async def hook() -> None:
        await _after_unwind(cage, instance, entry, blocked)

    if thread is None:
        cage.forking.after_unwind = hook
    else:
        thread.after_unwind = hook
    return 0


def _buffer(cage: Cage) -> int:
    entry = _buffers.get(cage)
    if entry is not None and entry[0] is cage.vm:
        return entry[1]
    buf = cage.vm.map_anywhere(BUFFER_SIZE, _PROT_RW)
    _buffers[cage] = (cage.vm, buf)
    return buf


async def _after_unwind(
    parent: Cage, inst: LindInstance, entry: tuple[str, list[int]], blocked: int
) -> None:
    """The forking instance (the main one or a thread's) has unwound: make the child, whose only
    thread is a copy of this one (entering ``entry`` to rewind), and rewind the parent."""
    if inst.get_global(STATE) != UNWINDING:
        raise ForkError("fork: the stack did not unwind (is the module asyncified?)")
    inst.set_global(STATE, NORMAL)  # = asyncify_stop_unwind
    mv = parent.microvisor
    route = mv.threei.route(parent.cage_id, SYS_fork)
    if route is None:
        try:
            result = mv.fork(parent, inst, entry, blocked).cage_id
        except MemoryError as exc:  # the host could not give the child its memory
            mv.report(f"cage {parent.cage_id}: fork: {exc}")
            result = -ENOMEM
    else:
        # A grate interposes fork: it decides what the parent's fork() returns, and the child
        # exists only if it forwards the call (RawPOSIX's fork, below, makes it from this point).
        parent.forking.point = (inst, entry, blocked)
        try:
            answer = call_grate(mv, parent, route, SYS_fork, (0, 0, 0, 0, 0, 0))
            result = answer if isinstance(answer, int) else await answer
        finally:
            parent.forking.point = None
    _start_rewind(parent, inst, result, data_set=True)


def sys_fork(cage: Cage, *_: int) -> int:
    """RawPOSIX's fork: only meaningful for a cage whose stack has unwound at ``lind.fork`` and
    whose fork a grate is forwarding (a direct fork never reaches the syscall table)."""
    real = cage.microvisor.cages.get(cage.cage_id)
    point = real.forking.take_point() if real is not None else None  # one child per fork()
    if real is None or point is None:
        raise GuestError(ENOSYS)
    return real.microvisor.fork(real, *point).cage_id


def _start_rewind(cage: Cage, inst: LindInstance, result: int, *, data_set: bool = False) -> None:
    """``data_set``: ``__asyncify_data`` already names the buffer (the instance that unwound:
    the unwind moves the buffer's header, never the global)."""
    _results[inst] = result
    if not data_set:
        inst.set_global(DATA, _buffers[cage][1])
    inst.set_global(STATE, REWINDING)  # = asyncify_start_rewind(buf)


# ------------------------------------------------------------------------------ the child
class ForkedCage(Cage):
    """A cage made by fork: its first instance is a copy of the parent's, rewinding into fork."""

    def __init__(self, microvisor: World, cage_id: int, parent: Cage, pinst: LindInstance,
                 entry: tuple[str, list[int]], blocked: int) -> None:
        super().__init__(microvisor, cage_id, parent.cage_id, parent.module, parent.argv,
                         parent.env, parent.fds.fork(), parent.cwd)
        self.umask = parent.umask
        self.signals = parent.signals.fork()
        self.signals.set_mask(blocked)  # the forking thread's mask
        self.stack_size = parent.stack_size
        self.entry = entry  # the rewind re-enters what the forking instance was running
        # A fork inside a handler the guest runs on its stack: the child returns from it too.
        frame = pinst.signal_frame
        self._signal_frame = dataclasses.replace(frame) if frame is not None else None
        self.delivery = SignalDelivery(in_handler=frame is not None)
        self._globals = {name: pinst.get_global(name)
                         for name, (_, mutable) in pinst.spec.globals.items()
                         if mutable and name not in ASYNCIFY_GLOBALS}
        self._vm = parent.vm.fork()
        _buffers[self] = (self._vm, _buffers[parent][1])
        src = pinst.memory
        pages = src.pages()
        # A dead cage's instance with its memory (all zeros, wasm/instance_reuse.py), else a
        # memory an earlier child left (all zeros, instance_memory.py), else a new one.
        engine = microvisor.engine
        self._kept: LindInstance | None = instance_reuse.take(
            engine, parent.module, microvisor.imports, src.limits, pages)
        memory = (self._kept.memory if self._kept is not None
                  else SharedMemoryHandle.spare(engine, src.limits, pages))
        if memory is None:
            memory = SharedMemoryHandle.for_module(engine, parent.module)
            memory.reusable = True
            grow = pages - memory.pages()
            if grow > 0 and memory.grow(grow) < 0:
                raise MemoryError("fork: cannot reserve the child's linear memory")
        self._memory: SharedMemoryHandle | None = memory
        child = GuestMemory(self._memory)
        self._child_mem: GuestMemory | None = child  # (the cage's, once it started)
        try:
            _copy_memory(src, child, parent.vm)
        except BaseException:
            self._close_kept()
            raise
        vm = self._vm
        try:
            shm.map_all(vm, child, guard=lambda: faults.watch(vm, child, self))  # MAP_SHARED
        except BaseException:
            cow.release(self._memory)  # (no child: its snapshot is let go)
            self._close_kept()
            raise

    async def _start_instance(self) -> LindInstance:
        memory, self._memory = self._memory, None
        if memory is None:  # a later program image (execve): start as any cage does
            return await super()._start_instance()
        mv = self.microvisor
        instance, self._kept = self._kept, None
        if instance is None:
            try:
                instance = await instantiate(mv.engine, self.module, mv.imports, memory=memory)
            except BaseException:  # (a kill or a trap mid-way): the memory's snapshot goes too
                cow.release(memory)
                raise
        # (a kept instance: its wasm state is all in the exported globals set below)
        instance.data = self
        self._mem, self._child_mem = self._child_mem, None  # from here on, the cage's exit
        # lets the snapshot go (and the memory, once nothing holds it)
        for name, value in self._globals.items():
            instance.set_global(name, value)
        if "__tls_base" in self._globals:
            self.tls_base = self._globals["__tls_base"]
        instance.preempt_hook = self._at_preemption
        instance.signal_frame = self._signal_frame
        _start_rewind(self, instance, 0)
        return instance

    def drop_shared_mappings(self) -> None:
        super().drop_shared_mappings()
        self._child_mem = None
        if self._memory is not None:  # ended (killed) before it started: its backing goes too
            cow.release(self._memory)
        self._close_kept()

    def _close_kept(self) -> None:
        """A kept instance this child never started goes (its memory with it)."""
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()


# ------------------------------------------------------------------------------ memory copy
def _copy_memory(src: SharedMemoryHandle, child: GuestMemory, vm: VmMap) -> None:
    """Give ``child`` (a new memory as large as ``src``) the contents of ``src``: copy-on-write
    through ``src``'s backing (memory/cow.py), else a copy of the touched used pages."""
    backing = cow.backing_of(src)
    if backing is None:
        copy_used(GuestMemory(src), child, used_ranges(vm))
        return
    shared = [(m.start, m.end) for m in shm.shared_pieces(vm)]
    try:
        mine = backing.fork(src.size(), child.host_range(0, child.size), shared, used_ranges(vm))
    except OSError as e:
        raise MemoryError(f"fork: cannot share the memory copy-on-write: {e}") from e
    cow.register(child.handle, mine)


def used_ranges(vm: VmMap) -> list[tuple[int, int]]:
    """The parts of linear memory a process may hold data in: the static image and each private
    mapping, the break's included (a ``MAP_SHARED`` one is mapped into the child, not copied)."""
    ranges = [(0, vm.heap_start)]
    ranges += [(m.start, m.end) for m in vm.mappings() if m.shared is None]
    return ranges
