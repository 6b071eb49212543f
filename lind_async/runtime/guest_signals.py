"""Signal handlers run by the guest itself, on the interrupted thread's own stack.

Theory of operation
-------------------
When a system call is about to return and a signal with a handler is deliverable, the runtime
does not run the handler on the separate signal instance (``runtime/signals.py``): the call's
answer is ``LIND_SIGNAL`` instead of its result, and lind-musl's syscall slow path
(``guest/src/lind/signal.c``) runs the handler right there, on the calling thread's own stack:

1. ``lind.signal_frame(frame, info)`` hands it the pending :class:`GuestFrame`: the handler, the
   signal, ``SA_SIGINFO``, and the ``siginfo_t`` written into the guest's own frame;
2. the guest calls the handler; during it, the action's mask is blocked and the cage is *in a
   handler* (no other handler is started: handlers do not nest);
3. ``lind.signal_return()`` restores the mask and carries on where the delivery loop left off:
   the next deliverable signal (``LIND_SIGNAL`` again), the call restarted (``SA_RESTART``; its
   answer may be ``WOULD_WAIT``), or the call's result.

Because the handler is ordinary code on the thread's stack, it can ``fork`` (Asyncify unwinds
and rewinds through it like any frame; the child inherits the pending frame and returns from the
handler and then from the interrupted call, as on Linux) and ``longjmp``/``siglongjmp`` out of
it. A handler left by ``longjmp`` never calls ``signal_return``. libc counts the handlers a
thread runs (``__lind_handler_depth``; the frame tells where the counter is); ``setjmp`` records
the count in the ``jmp_buf`` and ``longjmp`` brings it back, so when the counter is back below
its value at the handler's start the handler has ended as Linux sees it (:func:`left_by_longjmp`,
asked only when a signal is to be delivered) — nothing is restored (``siglongjmp`` restores its
own mask). Modules whose libc does not say where the counter is fall back on the shadow stack
pointer (a call from above the handler's frame).

**Preemption points.** A signal that arrives while the thread computes has no call to answer.
A module whose loops the toolchain instrumented (``toolchain/signal_poll.py``: it exports the
per-instance global :data:`POLL_FLAG`) tests that global at every loop header; the runtime
raises it (:func:`request_poll`) and the loop calls libc's ``__lind_signal_poll``, which asks
``lind.signal_frame(0, 0)`` whether a handler is due: the delivery then runs as at a system call
whose result is 0, on the thread's own stack, so such a handler may ``longjmp`` out or ``fork``
too. If the flag is still raised at the next preemption point (the thread ran a whole time slice
without reaching a loop header: deep recursion, or a call that waits without being interrupted),
the handler runs on the signal instance after all. Modules built before this protocol (no
``lind.signal_return`` import) get every handler on the signal instance, and uninstrumented
modules every handler due at a preemption point.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lind_async.abi.errno import EFAULT, EINTR, EINVAL, GuestError, to_negative_errno
from lind_async.abi.guest import SIGNAL_RETURN_IMPORT, WOULD_WAIT
from lind_async.core.signals import SA_RESTART, SA_SIGINFO, SigAction
from lind_async.runtime import signals

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.cage import Cage
    from lind_async.wasm.instance import LindInstance

LIND_SIGNAL = WOULD_WAIT + 1
_FRAME = struct.Struct("<IiI")  # handler, signo, with_info (struct lind_signal_frame, out)
_FRAME_DEPTH = 12  # unsigned *depth (in): libc's count of the thread's running handlers
POLL_FLAG = "__lind_signal_poll_flag"
"""The global an instrumented module tests at its loop headers (``toolchain/signal_poll.py``)."""
POLL_CALL = -1
"""The frame's call number for a delivery asked for by ``__lind_signal_poll`` (no call)."""


@dataclass(slots=True)
class GuestFrame:
    """A system call's delivery in progress on one thread: what it returns when done."""

    number: int
    args: tuple[int, ...]
    result: int
    restart: bool = True
    ran: bool = False
    signo: int = 0
    action: SigAction | None = None
    saved_mask: int = 0
    stack_pointer: int | None = None  # the guest's, at signal_frame: below it runs the handler
    depth_addr: int | None = None  # libc's handler counter, and its value before this handler
    depth: int = 0
    outer_mask: int | None = None  # a sigsuspend-like call's caller mask, restored after


def runs_handlers(instance: LindInstance) -> bool:
    """Does this module's libc run handlers itself (it imports ``lind.signal_return``)?"""
    return SIGNAL_RETURN_IMPORT in instance.spec.func_imports


async def after_syscall(
    instance: LindInstance, cage: Cage, number: int, args: tuple[int, ...], result: int
) -> int:
    """:func:`signals.after_syscall` for a guest that runs its handlers itself."""
    frame = GuestFrame(number, args, result)
    frame.outer_mask = signals.apply_deferred_mask(cage, number)
    return await _deliver(instance, cage, frame)


async def _deliver(instance: LindInstance, cage: Cage, frame: GuestFrame) -> int:
    while True:
        await cage.wait_while_stopped()
        signo = cage.signals.deliverable()
        if not signo:
            break
        action = await signals.take(cage, signo)
        if action is None:
            continue
        frame.signo, frame.action = signo, action
        frame.saved_mask = signals.enter_handler(cage, signo, action)
        if frame.outer_mask is not None:  # the handler returns to the sigsuspend caller's mask
            frame.saved_mask, frame.outer_mask = frame.outer_mask, None
        frame.stack_pointer = None
        instance.signal_frame = frame
        cage.delivery.enter()
        return LIND_SIGNAL
    if frame.outer_mask is not None:  # nothing ran: the caller's mask comes back now
        cage.signals.set_mask(frame.outer_mask)
        frame.outer_mask = None
    if (
        frame.ran
        and frame.result == -EINTR
        and frame.restart
        and frame.number in signals.RESTARTABLE
    ):
        again: SysResult = cage.syscall(frame.number, *frame.args)
        return again if isinstance(again, int) else await again
    return frame.result


def signal_frame_import(instance: LindInstance, args: tuple[int, ...]) -> int:
    """``lind.signal_frame(frame, info) -> i64`` (sync): describe the pending handler.
    ``signal_frame(0, 0)`` is ``__lind_signal_poll``'s question (see :func:`poll`)."""
    at, info = args[0] & 0xFFFFFFFF, args[1] & 0xFFFFFFFF
    if at == 0:
        return poll(instance)
    frame = instance.signal_frame
    if frame is None or frame.action is None:
        return -EINVAL  # nothing pending: a confused (or hostile) guest
    cage: Cage = instance.data
    action = frame.action
    with_info = 1 if action.flags & SA_SIGINFO else 0
    mem = cage.mem
    try:
        depth_addr = mem.read_u32(at + _FRAME_DEPTH)
        signals.write_siginfo(cage, frame.signo, info)
        mem.pack(_FRAME, at, action.handler & 0xFFFFFFFF, frame.signo, with_info)
    except GuestError as exc:
        return to_negative_errno(exc, fallback=EFAULT)
    frame.stack_pointer = instance.get_global("__stack_pointer")
    try:
        frame.depth, frame.depth_addr = mem.read_u32(depth_addr), depth_addr
    except GuestError:
        frame.depth_addr = None  # not a counter: judge by the stack pointer
    return 0


def poll(instance: LindInstance) -> int:
    """``lind.signal_frame(0, 0)``: an instrumented loop saw the poll flag. Deliver what is due
    as at the return of a call whose result is 0 (``LIND_SIGNAL`` or ``WOULD_WAIT``), or answer 0
    when nothing is: none pending, a handler running, or a call of this thread parked (the flag
    was seen in libc's own slow path; that call's return delivers)."""
    if POLL_FLAG in instance.spec.globals:
        instance.set_global(POLL_FLAG, 0)
    cage: Cage = instance.data
    if instance.parked is not None or instance.serving:
        return 0
    if cage.delivery.in_handler and not left_by_longjmp(instance, cage):
        return 0
    if not signals.pending_for(cage):
        return 0
    instance.park(_deliver(instance, cage, GuestFrame(POLL_CALL, (), 0)))
    return WOULD_WAIT


def request_poll(cage: Cage) -> bool:
    """At a preemption point: have the main thread deliver at its next loop header (raise its
    poll flag; True). False when it cannot (not instrumented, no guest handlers, a delivery or
    handler in progress) or did not within a time slice: then deliver on the signal instance."""
    instance = cage.instance
    if (
        instance is None
        or POLL_FLAG not in instance.spec.globals
        or not runs_handlers(instance)
        or instance.signal_frame is not None
    ):
        return False
    if instance.get_global(POLL_FLAG):
        instance.set_global(POLL_FLAG, 0)  # a whole slice without a loop header
        return False
    instance.set_global(POLL_FLAG, 1)
    return True


def signal_return_import(instance: LindInstance, args: tuple[int, ...]) -> int:
    """``lind.signal_return() -> i64`` (sync): the handler returned; what comes next (parked:
    the guest collects it with ``lind.syscall_wait``)."""
    frame = instance.signal_frame
    if frame is None or frame.action is None:
        return -EINVAL
    cage: Cage = instance.data
    _end(instance, cage)
    cage.signals.set_mask(frame.saved_mask)
    frame.ran = True
    frame.restart = frame.restart and bool(frame.action.flags & SA_RESTART)
    frame.action = None
    instance.park(_deliver(instance, cage, frame))
    return WOULD_WAIT


def left_by_longjmp(instance: LindInstance, cage: Cage) -> bool:
    """A system call while this thread's handler runs: if it comes from above the handler's
    frame, the handler was left by ``longjmp`` and has ended (True)."""
    frame = instance.signal_frame
    if frame is None or frame.stack_pointer is None:
        return False
    if frame.depth_addr is not None:
        try:
            running = cage.mem.read_u32(frame.depth_addr) > frame.depth
        except GuestError:
            running = False
    else:
        running = instance.get_global("__stack_pointer") <= frame.stack_pointer
    if running:
        return False
    _end(instance, cage)
    return True


def _end(instance: LindInstance, cage: Cage) -> None:
    instance.signal_frame = None
    cage.delivery.leave()

