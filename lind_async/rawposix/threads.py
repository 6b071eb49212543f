"""The thread family of calls: ``clone``, ``exit``, thread ids, robust lists, ``membarrier``.

Theory of operation
-------------------
A thread is the process layer's business (its own wasm instance and task over the cage's memory:
``runtime/threads.py``); what these handlers own is the *Linux contract*: argument checks, which
thread is calling (:meth:`ThreadsView.calling`; ``None`` is the main thread, whose state lives on
the cage), ``set_tid_address``/``CLONE_CHILD_CLEARTID`` bookkeeping, and what ``exit`` means.

- ``clone`` validates flags, the stack and the tid pointers, then asks the process layer
  (:meth:`ProcessOps.clone`) for a thread (``CLONE_THREAD``) or a new cage over this memory
  (``CLONE_VM`` without it: musl's ``posix_spawn``); a plain fork never comes here (``lind.fork``).
- ``exit`` ends the calling thread: it leaves the group at once (so the next ``exit`` counts
  right), its ``clear_child_tid`` is zeroed and one futex waiter woken (``pthread_join``), and
  :class:`ThreadExit` unwinds its fiber. The last live thread's ``exit`` ends the cage
  (:class:`CageExit`).
- Guest protocol for ``clone`` (lind-musl ``src/thread/clone.c``): the sixth slot carries the
  start routine's table index and its argument: ``func | (uint64)arg << 32``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, ENOSYS, ESRCH, GuestError
from lind_async.core.proctable import exited
from lind_async.rawposix import futex
from lind_async.rawposix.args import i32, pointer, size, u64
from lind_async.rawposix.kernel import CageExit, ThreadExit
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.core.signals import SignalState
    from lind_async.rawposix.kernel import CageView, ThreadView
    from lind_async.rawposix.table import SysResult

CSIGNAL = 0x000000FF
CLONE_VM = 0x00000100
CLONE_FS = 0x00000200
CLONE_FILES = 0x00000400
CLONE_SIGHAND = 0x00000800
CLONE_VFORK = 0x00004000
CLONE_THREAD = 0x00010000
CLONE_SETTLS = 0x00080000
CLONE_PARENT_SETTID = 0x00100000
CLONE_CHILD_CLEARTID = 0x00200000
CLONE_CHILD_SETTID = 0x01000000

_ROBUST_LIST_HEAD_SIZE = 12  # struct robust_list_head on wasm32: three 32-bit words


# ------------------------------------------------------------------------------ identity calls
def sys_gettid(cage: CageView, *_: int) -> int:
    thread = cage.threads.calling()
    return thread.tid if thread is not None else cage.cage_id


def sys_set_tid_address(cage: CageView, tidptr: int, *_: int) -> int:
    thread = cage.threads.calling()
    if thread is None:
        cage.clear_child_tid = pointer(tidptr)
        return cage.cage_id
    thread.clear_child_tid = pointer(tidptr)
    return thread.tid


def sys_set_robust_list(cage: CageView, head: int, length: int, *_: int) -> int:
    if size(length) != _ROBUST_LIST_HEAD_SIZE:
        raise GuestError(EINVAL)
    thread = cage.threads.calling()
    if thread is None:
        cage.threads.main_robust_list = pointer(head)
    else:
        thread.robust_list = pointer(head)
    return 0


def sys_get_robust_list(cage: CageView, tid: int, head_ptr: int, len_ptr: int, *_: int) -> int:
    group = cage.threads
    wanted = i32(tid)
    if wanted == 0:
        thread = group.calling()
        head = thread.robust_list if thread is not None else group.main_robust_list
    elif wanted == cage.cage_id and group.main_alive:
        head = group.main_robust_list
    else:
        other = group.by_tid(wanted)
        if other is None:
            raise GuestError(ESRCH)
        head = other.robust_list
    cage.mem.write_u32(pointer(head_ptr), head)
    cage.mem.write_u32(pointer(len_ptr), _ROBUST_LIST_HEAD_SIZE)
    return 0


def mask_state(cage: CageView) -> SignalState:
    """Whose blocked mask ``rt_sigprocmask`` reads and writes: the calling thread's."""
    thread = cage.threads.calling()
    return thread.signals if thread is not None else cage.signals


_MEMBARRIER_QUERY = 0
_MEMBARRIER_SUPPORTED = 1 | 8 | 16  # GLOBAL, PRIVATE_EXPEDITED, REGISTER_PRIVATE_EXPEDITED


def sys_membarrier(cage: CageView, cmd: int, flags: int, *_: int) -> int:
    """Every thread runs on the loop's one OS thread, so every barrier is already there."""
    command = i32(cmd)
    if i32(flags) != 0:
        raise GuestError(EINVAL)
    if command == _MEMBARRIER_QUERY:
        return _MEMBARRIER_SUPPORTED
    if command & _MEMBARRIER_SUPPORTED and command & (command - 1) == 0:
        return 0
    raise GuestError(EINVAL)


# ------------------------------------------------------------------------------ exit
def sys_exit(cage: CageView, code: int, *_: int) -> int:
    """End the calling thread; the last live thread's exit ends the cage."""
    status = leave(cage, cage.threads.calling(), i32(code))
    if status is not None:
        raise CageExit(status)
    raise ThreadExit(i32(code))


def leave(cage: CageView, thread: ThreadView | None, code: int) -> int | None:
    """The thread (None: main) stops counting as live. Returns the cage's wait status if it was the
    last one; otherwise clears and wakes its ``clear_child_tid`` and returns None."""
    group = cage.threads
    if group.live() <= 1:
        return exited(code)
    group.remove(thread)
    ctid = cage.clear_child_tid if thread is None else thread.clear_child_tid
    if ctid:
        try:
            cage.mem.write_u32(ctid, 0)
        except GuestError:
            return None  # Linux ignores a bad clear_child_tid
        futex.wake(cage, ctid, 1)
    return None


# ------------------------------------------------------------------------------ clone
def sys_clone(
    cage: CageView, flags: int, stack: int, ptid: int, ctid: int, tls: int, entry: int
) -> SysResult:
    fl = u64(flags)
    if (fl & CLONE_THREAD and not fl & CLONE_SIGHAND) or (fl & CLONE_SIGHAND and not fl & CLONE_VM):
        raise GuestError(EINVAL)
    if not fl & (CLONE_THREAD | CLONE_VM):
        raise GuestError(ENOSYS)  # fork goes through lind.fork
    if not cage.ops.has_thread_entry():
        raise GuestError(ENOSYS)  # not linked with lind-musl's threads
    mem = cage.mem
    sp = pointer(stack) & ~15
    if sp == 0:
        raise GuestError(EINVAL)
    mem.check(sp - 16, 16)
    ptid_addr = pointer(ptid) if fl & CLONE_PARENT_SETTID else 0
    ctid_addr = pointer(ctid) if fl & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID) else 0
    for addr in (ptid_addr, ctid_addr):
        if addr:
            mem.check(addr, 4)
    entry_bits = u64(entry)
    func, arg = entry_bits & 0xFFFFFFFF, entry_bits >> 32
    tls_ptr = pointer(tls) if fl & CLONE_SETTLS else 0
    caller = cage.threads.calling()
    blocked = caller.signals.blocked if caller is not None else cage.signals.blocked
    return cage.ops.clone(fl, sp, ptid_addr, ctid_addr, (func, arg), tls_ptr, blocked)


ROWS: list[Row] = [
    (nr.SYS_exit, sys_exit, Support.FULL, "ends the calling thread (the last: the cage)"),
    (nr.SYS_clone, sys_clone, Support.PARTIAL, "threads; CLONE_VM[|VFORK] children"),
    (nr.SYS_set_robust_list, sys_set_robust_list, Support.FULL, "recorded"),
    (nr.SYS_get_robust_list, sys_get_robust_list, Support.FULL, ""),
    (nr.SYS_membarrier, sys_membarrier, Support.FULL, "one OS thread: a no-op"),
    (nr.SYS_gettid, sys_gettid, Support.FULL, ""),
    (nr.SYS_set_tid_address, sys_set_tid_address, Support.FULL, ""),
]
