"""POSIX threads in a cage: ``clone(CLONE_VM|CLONE_THREAD…)``, thread exit, thread ids.

Theory of operation
-------------------
A thread is **its own Store + Instance of the cage's module over the cage's shared linear memory**,
run on its own fiber by its own asyncio task (the wasi-threads model). Its wasm globals are its own:
``__stack_pointer`` (the stack musl's ``pthread_create`` mapped) and ``__tls_base`` (the TLS block
musl reserved below the thread pointer). Memory, fd table, cwd, signal dispositions and identity are
the cage's: the instance's ``data`` is the cage, so its system calls enter the same
:meth:`Cage.syscall` 3i path as the main thread's, and a thread blocked in a call suspends only its
own fiber.

Guest protocol (lind-musl ``src/thread/clone.c``)::

    clone(flags, stack, ptid, ctid, tls, func | (uint64)arg << 32)     # x86_64 number 56

``func`` is a function-table index, ``arg`` an address. :func:`sys_clone` instantiates the module
again over the same memory (the start function ``__wasm_init_memory`` sees the memory already
initialised and does nothing), points ``__stack_pointer`` at ``stack`` (aligned down to 16),
copies the caller's ``__tls_base``, writes the tid to ``*ptid`` (``CLONE_PARENT_SETTID``) and
``*ctid`` (``CLONE_CHILD_SETTID``), records ``ctid`` for ``CLONE_CHILD_CLEARTID``, and starts a task
that calls the guest export ``__lind_thread_start(func, arg, tls)``: it gives the instance its own
TLS block (``__wasm_init_tls``), sets the thread pointer, runs ``func(arg)`` and exits the thread.
The parent gets the tid once the instance exists (the child has not run yet).

Identity. Thread ids come from the microvisor's id counter (:meth:`World.new_id`), so they
never collide with cage ids; the main thread's tid is the cage id. Each cage has a
:class:`ThreadGroup`: its secondary threads keyed by instance. Handlers find *which* thread is
calling from the instance whose host call is running (:func:`fiber.current_instance`), so the
3i calling convention stays ``(cage, a1..a6)``; a call from any instance that is not a secondary
thread's (the main instance, the signal runner) is the main thread's. Per thread: the tid,
``clear_child_tid``, the robust-list head and the blocked-signal mask (the main thread's mask is the
cage's ``signals.blocked``, which is what signal delivery consults; delivery runs on the main
thread's context).

Ending:

- ``exit`` (:func:`sys_exit`) ends only the calling thread while others live: ``*clear_child_tid``
  is zeroed and one futex waiter on it woken (how musl's ``pthread_join`` and thread-list lock
  learn of it), the thread leaves the group *synchronously* (so the next ``exit`` counts right) and
  :class:`ThreadExit` unwinds its fiber; its task closes the instance. The last live thread's
  ``exit`` ends the cage with that code. When the main thread exits first, the cage's task waits
  (:func:`main_thread_exited`) until some thread ends the cage.
- ``exit_group`` from any thread, a trap in any thread, or an internal error end the whole cage:
  the thread's task calls :meth:`Cage.terminate`, which cancels every task of the cage (each thread
  task closes its instance as it unwinds); the cage's own end also cancels the rest
  (``Cage._finish``).

``CLONE_VM`` without ``CLONE_THREAD`` (musl's ``posix_spawn``) makes a new cage run the same way
over this memory: runtime/vfork.py. ``execve`` from any thread ends the others and runs the new
program as the main thread (``Cage.exec_from_thread``).

``fork`` from a secondary thread: runtime/fork.py. Not yet: thread-directed signals (``tgkill``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from lind_async.abi.errno import EAGAIN, ENOSYS, GuestError
from lind_async.core.proctable import exited, killed
from lind_async.core.signals import SignalState
from lind_async.rawposix.kernel import CageExit, ExecImage, ThreadExit
from lind_async.rawposix.threads import (
    CLONE_CHILD_CLEARTID,
    CLONE_CHILD_SETTID,
    CLONE_THREAD,
    leave,
)
from lind_async.wasm import fiber
from lind_async.wasm.fiber import WasmTrap, run_call, trap_signal
from lind_async.wasm.instance import LindInstance, instantiate

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import ThreadView
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.cage import Cage

log = logging.getLogger("lind_async.threads")

THREAD_ENTRY = "__lind_thread_start"
"""The guest export a new thread's instance runs: ``(func, arg, tls) -> ()``."""

_SIGSYS = 31


class Thread:
    """A secondary thread of a cage (the main thread's state lives on the cage itself)."""

    __slots__ = ("after_unwind", "clear_child_tid", "entry", "instance", "robust_list", "signals",
                 "task", "tid")

    def __init__(
        self, tid: int, instance: LindInstance, blocked: int, entry: tuple[str, list[int]]
    ) -> None:
        self.tid = tid
        self.instance = instance
        self.entry = entry  # what its task calls (again, to rewind after a fork: runtime/fork.py)
        self.after_unwind: Callable[[], Awaitable[None]] | None = None
        self.clear_child_tid = 0
        self.robust_list = 0
        # Only ``blocked`` is used: dispositions are the cage's.
        self.signals = SignalState(blocked=blocked)
        self.task: asyncio.Task[int] | None = None


class ThreadGroup:
    """A cage's threads: its secondary threads by instance, and whether the main one still runs."""

    __slots__ = ("by_instance", "main_alive", "main_robust_list")

    def __init__(self) -> None:
        self.by_instance: dict[LindInstance, Thread] = {}
        self.main_alive = True
        self.main_robust_list = 0

    def live(self) -> int:
        return len(self.by_instance) + (1 if self.main_alive else 0)

    def calling(self) -> Thread | None:
        """The secondary thread whose system call is being handled; None for the main thread."""
        if not self.by_instance:
            return None
        instance = fiber.current_instance()
        return self.by_instance.get(instance) if instance is not None else None

    def remove(self, thread: ThreadView | None) -> None:
        """The thread (None: the main one) stops counting as live."""
        if thread is None:
            self.main_alive = False
            return
        for instance, member in list(self.by_instance.items()):
            if member is thread:
                del self.by_instance[instance]

    def by_tid(self, tid: int) -> Thread | None:
        for thread in self.by_instance.values():
            if thread.tid == tid:
                return thread
        return None


async def main_thread_exited(cage: Cage) -> int:
    """The main thread called ``exit`` with other threads running: the cage lives on until one of
    them ends it (last ``exit``, ``exit_group``, a crash or a fatal signal all go through
    :meth:`Cage.terminate`, which cancels this wait)."""
    while cage.threads.live():
        await asyncio.get_running_loop().create_future()
    return exited(0)


def end_other_threads(cage: Cage) -> None:
    """Cancel every secondary thread but the caller (for ``execve``): they vanish at once."""
    caller = cage.threads.calling()
    for thread in list(cage.threads.by_instance.values()):
        if thread is caller:
            continue
        cage.threads.by_instance.pop(thread.instance, None)
        if thread.task is not None:
            thread.task.cancel()


# ------------------------------------------------------------------------------ clone
def clone(
    cage: Cage, flags: int, sp: int, ptid: int, ctid: int, entry: tuple[int, int], tls: int,
    blocked: int,
) -> SysResult:
    """Make what ``clone`` asked for (rawposix/threads.py checked the arguments): a thread, or
    for ``CLONE_VM`` without ``CLONE_THREAD`` a new cage over this memory (runtime/vfork.py)."""
    parent = fiber.current_instance() or cage.instance
    if parent is None:
        raise GuestError(ENOSYS)
    if not flags & CLONE_THREAD:
        from lind_async.runtime import vfork

        return vfork.clone_vm(cage, parent, flags, sp, ptid, ctid, entry, blocked)
    return _create(cage, parent, flags, sp, ptid, ctid, (*entry, tls), blocked)


def has_thread_entry(cage: Cage) -> bool:
    parent = fiber.current_instance() or cage.instance
    return parent is not None and parent.has_export(THREAD_ENTRY)


async def sibling_instance(
    cage: Cage, parent: LindInstance, sp: int, what: str
) -> LindInstance | None:
    """Another instance of ``parent``'s module over its memory, on the stack ending at ``sp``
    with ``parent``'s TLS base (threads and vfork children start this way); None when it cannot
    be made or the cage is ending (the guest sees ``EAGAIN``)."""
    mv = cage.microvisor
    try:
        instance = await instantiate(mv.engine, parent.module, parent.imports, memory=parent.memory)
    except Exception as e:  # any failure to instantiate is EAGAIN for the guest
        log.warning("cage %d: could not create %s: %s", cage.cage_id, what, e)
        return None
    if cage.status is not None or cage.kill_status is not None:
        instance.close()
        return None
    instance.set_global("__stack_pointer", sp)
    if "__tls_base" in parent.spec.globals:
        instance.set_global("__tls_base", parent.get_global("__tls_base"))
    return instance


async def _create(
    cage: Cage,
    parent: LindInstance,
    flags: int,
    sp: int,
    ptid: int,
    ctid: int,
    call: tuple[int, int, int],
    blocked: int,
) -> int:
    mv = cage.microvisor
    instance = await sibling_instance(cage, parent, sp, "a thread")
    if instance is None:
        return -EAGAIN
    instance.data = cage
    instance.preempt_hook = parent.preempt_hook
    tid = mv.new_id()
    mem = cage.mem
    if ptid:
        mem.write_u32(ptid, tid)
    if flags & CLONE_CHILD_SETTID:
        mem.write_u32(ctid, tid)
    thread = Thread(tid, instance, blocked, (THREAD_ENTRY, list(call)))
    if flags & CLONE_CHILD_CLEARTID:
        thread.clear_child_tid = ctid
    cage.threads.by_instance[instance] = thread
    task = asyncio.get_running_loop().create_task(
        _run_thread(cage, thread), name=f"cage-{cage.cage_id}-thread-{tid}"
    )
    thread.task = task
    cage.tasks.add(task)
    return tid


async def _run_thread(cage: Cage, thread: Thread) -> int:
    """A thread's task: run the guest entry; whatever ends it, close its instance."""
    instance = thread.instance
    status: int | None = None
    try:
        while True:
            await run_call(instance, *thread.entry)
            hook = thread.after_unwind  # the thread forked: its stack unwound (runtime/fork.py)
            if hook is None:
                break
            thread.after_unwind = None
            await hook()
        status = leave(cage, thread, 0)  # the entry returned instead of exiting: exit(0)
    except ThreadExit:
        pass
    except ExecImage as image:  # the new program replaces every thread (runs as the main one)
        cage.threads.by_instance.pop(instance, None)
        cage.exec_from_thread(image)
    except CageExit as done:
        status = done.status
    except WasmTrap as trap:
        status = trap_signal(trap)
        cage.microvisor.report(
            f"cage {cage.cage_id} ({cage.name}) thread {thread.tid} crashed: "
            f"{trap.report(cage.name)}"
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("cage %d thread %d: internal error in a call", cage.cage_id, thread.tid)
        status = killed(_SIGSYS)
    finally:
        cage.threads.by_instance.pop(instance, None)
        task = thread.task
        if task is not None:
            cage.tasks.discard(task)
        instance.close()
    if status is not None:
        cage.terminate(status)
    return 0
