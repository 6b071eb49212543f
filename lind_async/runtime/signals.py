"""Signal delivery: posting signals to cages and running guest handlers.

Theory of operation
-------------------
*Posting* (``kill``, ``SIGPIPE``, ``SIGCHLD``, ``alarm``…) records the signal in the target's
:class:`~lind_async.core.signals.SignalState`, then makes sure it is noticed promptly:

- ``SIGKILL`` ends the cage at once (its tasks are cancelled: a suspended or preempted fiber is
  simply dropped). ``SIGSTOP``/``SIGCONT`` stop and resume it. A default action of *terminate* for
  a cage that is not the one running now ends it the same way;
- a deliverable signal interrupts the cage's blocking waits, which return ``EINTR``.

*Faults*: a touch of a file page that shrank away is repaired by the SIGBUS guard
(memory/faults.py), which makes the running wasm yield; :func:`pending_for` (run at every
preemption point) collects the cages whose memory faulted and posts them ``SIGBUS`` as Linux
forces a fault signal (:func:`post_fault`).

*Delivery* happens only at safe points of the target: when a system call returns to the guest
(:func:`after_syscall`, also for the call that posted a signal to its own cage) and at preemption
points (:func:`at_preemption`, so a spinning cage still gets ``SIGALRM``). The default action is
applied by the microvisor. A guest handler due when a system call returns is run by the guest's
own libc on the interrupted thread's stack (``runtime/guest_signals.py``: the call answers
``LIND_SIGNAL``), so it may ``fork`` or ``longjmp`` out. A handler due at a preemption point (or
for a module built before that protocol) runs on a **second instance of the cage's module over
the same shared memory** (the wasi-threads model), on a dedicated per-cage signal stack and the
main thread's TLS, through the crt's ``__lind_run_sighandler`` export, while the interrupted fiber
stays suspended. Memory the handler writes (a ``volatile sig_atomic_t`` flag) is the interrupted
code's memory. During the handler the action's mask (plus the signal, unless ``SA_NODEFER``) is
blocked and restored afterwards; ``SA_RESETHAND`` resets the disposition first.

After a handler, a system call that failed with ``EINTR`` is restarted if every handler that ran
had ``SA_RESTART`` and the call is restartable (not sleeps, ``pause``, ``sigsuspend``).

A handler's frame lives on a signal stack mapped from the cage's vmmap on first use; when the
vmmap has no room for it the frame cannot be set up and the cage dies of ``SIGSEGV``, as Linux
does when it cannot write a signal frame.

At a preemption point, a module whose loops the toolchain instrumented (programs that fork or
use setjmp: ``toolchain/signal_poll.py``) is asked to deliver by itself at its next loop header
(``guest_signals.request_poll``): the handler then runs on the thread's own stack as at a
system call's return, and may ``fork`` or ``longjmp`` out. Only when the thread does not reach a
loop header within a time slice does such a handler run on the signal instance.

Limits (documented, not hidden): handlers do not nest (signals arriving during a handler stay
pending until it returns); a handler run on the signal instance (preemption-point delivery to an
uninstrumented module, or the fallback above) cannot ``fork`` or ``longjmp`` out into the
interrupted frame: wasm has no way to transfer control between two stacks, and the interrupted
frames are suspended inside wasmtime, where only an exception thrown by wasm code on *their*
stack could unwind them.
"""

from __future__ import annotations

import struct
import weakref
from typing import TYPE_CHECKING, cast

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINTR, GuestError
from lind_async.abi.flags import SIGKILL, SIGSEGV, SIGSTOP
from lind_async.core.proctable import killed
from lind_async.core.signals import (
    SA_NODEFER,
    SA_RESETHAND,
    SA_RESTART,
    SA_SIGINFO,
    SIG_DFL,
    SIG_IGN,
    SIGBUS,
    SIGCONT,
    Default,
    SigAction,
    bit,
    default_action,
)
from lind_async.memory import faults
from lind_async.rawposix import signalfd
from lind_async.rawposix.kernel import CageExit
from lind_async.wasm import fiber
from lind_async.wasm.instance import LindInstance, instantiate

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.cage import Cage

SIGNAL_STACK_SIZE = 256 * 1024
_SIGINFO = struct.Struct("<iiiiI")  # si_signo, si_errno, si_code, si_pid, si_uid
SIGINFO_SIZE = 128
SI_USER = 0

# Calls Linux restarts after an SA_RESTART handler (sleeps and signal waits are never restarted).
RESTARTABLE = frozenset(
    {
        nr.SYS_read,
        nr.SYS_readv,
        nr.SYS_write,
        nr.SYS_writev,
        nr.SYS_pread64,
        nr.SYS_pwrite64,
        nr.SYS_wait4,
        nr.SYS_ioctl,
        nr.SYS_open,
        nr.SYS_openat,
        nr.SYS_flock,
        nr.SYS_fcntl,
        # sockets (signal(7): restarted unless SO_RCVTIMEO/SO_SNDTIMEO is set)
        nr.SYS_accept,
        nr.SYS_accept4,
        nr.SYS_connect,
        nr.SYS_recvfrom,
        nr.SYS_recvmsg,
        nr.SYS_sendto,
        nr.SYS_sendmsg,
    }
)


def running_cage() -> Cage | None:
    """The cage whose wasm is executing right now (inside a host call), if any."""
    instance = fiber.current_instance()
    if instance is None:
        return None
    cage: Cage = instance.data
    return cage


POLL_INFO: weakref.WeakKeyDictionary[Cage, dict[int, tuple[int, int, int]]] = (
    weakref.WeakKeyDictionary()
)
"""Per cage and pending signal, ``(si_code, si_band, si_fd)`` of a signal-driven I/O signal
(rawposix/sigio.py with ``F_SETSIG``), written into the handler's ``siginfo_t``."""
_SIGINFO_POLL = struct.Struct("<iiiii")  # si_signo, si_errno, si_code, si_band, si_fd (wasm32)


def post(
    cage: Cage, signo: int, sender: int = 0, poll: tuple[int, int, int] | None = None
) -> None:
    """Send ``signo`` to ``cage`` (see the module docstring for what happens when); ``poll``:
    the ``si_code``, ``si_band`` and ``si_fd`` of a signal-driven I/O notice."""
    if cage.status is not None:
        return
    for observe in cage.microvisor.signal_observers:
        observe(cage.cage_id, signo, sender)
    if signo == SIGKILL:
        cage.terminate(killed(SIGKILL))
        return
    if signo == SIGCONT:
        cage.resume()
    elif signo == SIGSTOP:
        cage.stop(signo)
        return
    state = cage.signals
    if not state.post(signo):
        return
    cage.sender[signo] = sender
    if poll is not None:
        POLL_INFO.setdefault(cage, {})[signo] = poll
    elif (infos := POLL_INFO.get(cage)) is not None:
        infos.pop(signo, None)
    if (watchers := signalfd.POSTED.get(cage)) is not None:
        watchers.fire()  # signalfd readiness (rawposix/signalfd.py)
    if not state.deliverable():
        return
    action = state.action(signo)
    if (
        action.handler == SIG_DFL
        and default_action(signo) in (Default.TERMINATE, Default.CORE)
        and not state.blocked & bit(signo)
        and running_cage() is not cage
    ):
        cage.terminate(killed(signo))
        return
    cage.interrupt()


def pending_for(cage: Cage) -> bool:
    for owner in faults.take():  # a file shrunk under a shared mapping was touched
        post_fault(cast("Cage", owner), SIGBUS)
    state = cage.signals
    return (
        bool(state.pending & ~state.blocked)
        or cage.is_stopped
        or state.deliverable_under_deferred()
    )


def post_fault(cage: Cage, signo: int) -> None:
    """Send a signal caused by the cage's own memory access, as Linux forces one: a fault
    cannot be blocked or ignored away (the default action is restored and it is unblocked)."""
    state = cage.signals
    if state.blocked & bit(signo) or state.action(signo).handler == SIG_IGN:
        state.actions[signo] = SigAction()
        state.set_mask(state.blocked & ~bit(signo))
    post(cage, signo)


async def after_syscall(cage: Cage, number: int, args: tuple[int, ...], result: int) -> int:
    """Deliver what is deliverable before a system call returns ``result`` to the guest (under
    the temporary mask of a sigsuspend-like call, which the first handler's return undoes)."""
    restart = True
    ran = False
    outer = apply_deferred_mask(cage, number)
    while True:
        await cage.wait_while_stopped()
        signo = cage.signals.deliverable()
        if not signo:
            break
        flags = await deliver(cage, signo, restore=outer)
        if flags is None:
            continue  # ignored or continued: nothing ran
        outer = None
        ran = True
        restart = restart and bool(flags & SA_RESTART)
    if outer is not None:
        cage.signals.set_mask(outer)
    if ran and result == -EINTR and restart and number in RESTARTABLE:
        again: SysResult = cage.syscall(number, *args)
        if isinstance(again, int):
            return again
        return await again
    return result


def handler_running(cage: Cage) -> bool:
    """Is one of the cage's handlers running? (One its guest left by ``longjmp`` has ended.)"""
    if not cage.delivery.in_handler:
        return False
    from lind_async.runtime import guest_signals  # it imports this module

    main = cage.instance
    return main is None or not guest_signals.left_by_longjmp(main, cage)


async def at_preemption(cage: Cage) -> None:
    """Preemption-point delivery for a cage whose fiber is suspended mid-computation: by the
    main thread itself at its next loop header when its module is instrumented for that
    (``guest_signals.request_poll``), else on the signal instance now."""
    from lind_async.runtime import guest_signals  # it imports this module

    await cage.wait_while_stopped()
    if handler_running(cage):
        return  # handlers do not nest
    signo = cage.signals.deliverable()
    if not signo:
        return
    if cage.signals.action(signo).handler not in (SIG_DFL, SIG_IGN) and (
        guest_signals.request_poll(cage)
    ):
        return
    while signo := cage.signals.deliverable():
        await deliver(cage, signo)


def apply_deferred_mask(cage: Cage, number: int) -> int | None:
    """If call ``number`` waited under a temporary mask and was interrupted, put that mask in
    force for its delivery; returns the caller's mask, to restore after the first handler (or
    when none runs)."""
    state = cage.signals
    temporary = state.take_delivery_mask(number)
    if temporary is None:
        return None
    outer = state.blocked
    state.set_mask(temporary)
    return outer


async def deliver(cage: Cage, signo: int, *, restore: int | None = None) -> int | None:
    """Take ``signo`` and act on it: the default action, or the handler (returns its flags).
    The mask afterwards is the one before the handler, or ``restore``."""
    action = await take(cage, signo)
    if action is None:
        return None
    saved = enter_handler(cage, signo, action)
    try:
        await _run_handler(cage, signo, action)
    finally:
        cage.signals.set_mask(saved if restore is None else restore)
    return action.flags


async def take(cage: Cage, signo: int) -> SigAction | None:
    """Take ``signo`` off the pending set and apply its default action (which may end or stop
    the cage); the action whose handler must run, or None when nothing is left to run."""
    state = cage.signals
    state.take(signo)
    action = state.action(signo)
    if action.handler == SIG_IGN:
        return None
    if action.handler == SIG_DFL:
        default = default_action(signo)
        if default in (Default.TERMINATE, Default.CORE):
            raise CageExit(killed(signo))
        if default is Default.STOP:
            cage.stop(signo)
            await cage.wait_while_stopped()
        return None  # IGNORE, CONTINUE (already resumed when posted)
    return action


def enter_handler(cage: Cage, signo: int, action: SigAction) -> int:
    """Block what the handler's mask says (and ``signo`` unless ``SA_NODEFER``), reset the
    disposition for ``SA_RESETHAND``; returns the mask to restore when the handler returns."""
    state = cage.signals
    if action.flags & SA_RESETHAND:
        state.actions[signo] = SigAction()
    saved = state.blocked
    state.set_mask(saved | action.mask | (0 if action.flags & SA_NODEFER else bit(signo)))
    return saved


def write_siginfo(cage: Cage, signo: int, info: int) -> None:
    cage.mem.fill(info, SIGINFO_SIZE)
    infos = POLL_INFO.get(cage)
    poll = infos.pop(signo, None) if infos is not None else None
    if poll is not None:
        cage.mem.pack(_SIGINFO_POLL, info, signo, 0, *poll)
        return
    cage.mem.pack(_SIGINFO, info, signo, 0, SI_USER, cage.sender.get(signo, 0), 0)


class SignalDelivery:
    """The cage's side of delivery that only this subsystem writes (``Cage.delivery``).

    ``in_handler``: a guest handler is running for the cage, on the signal instance (here) or
    on the interrupted thread's own stack (``guest_signals.py``, through :meth:`enter` and
    :meth:`leave`); a signal is not delivered into a running handler unless the guest left it by
    ``longjmp``. ``runner`` and ``stack_top``: the handler-running instance over the cage's memory
    and the top of its signal stack, made on first use (:func:`_signal_instance`) and closed when
    the program image ends (:meth:`end_image`: exec, exit). A fork child starts with the
    parent's ``in_handler`` (it returns from the same handler) and no runner of its own.
    """

    __slots__ = ("in_handler", "runner", "stack_top")

    def __init__(self, in_handler: bool = False) -> None:
        self.in_handler = in_handler
        self.runner: LindInstance | None = None
        self.stack_top = 0

    def enter(self) -> None:
        self.in_handler = True

    def leave(self) -> None:
        self.in_handler = False

    def end_image(self, *, in_handler: bool | None = None) -> None:
        """The program image ends: close the signal instance (``in_handler``: its new value)."""
        if in_handler is not None:
            self.in_handler = in_handler
        if self.runner is not None:
            self.runner.close()
            self.runner = None


async def _run_handler(cage: Cage, signo: int, action: SigAction) -> None:
    try:
        runner = await _signal_instance(cage)
    except GuestError as exc:  # no room for the handler's stack: no frame can be set up
        raise CageExit(killed(SIGSEGV)) from exc  # what Linux does then (force_sigsegv)
    delivery = cage.delivery
    stack_top = delivery.stack_top
    info = stack_top - SIGINFO_SIZE
    write_siginfo(cage, signo, info)
    runner.set_global("__stack_pointer", (info - 64) & ~15)
    delivery.in_handler = True
    try:
        await fiber.run_call(
            runner,
            "__lind_run_sighandler",
            [action.handler, signo, 1 if action.flags & SA_SIGINFO else 0, info],
        )
    finally:
        delivery.in_handler = False


async def _signal_instance(cage: Cage) -> LindInstance:
    """The cage's handler-running instance, created on first use."""
    delivery = cage.delivery
    if delivery.runner is None:
        main = cage.instance
        assert main is not None
        mv = cage.microvisor
        base = cage.vm.map_anywhere(SIGNAL_STACK_SIZE, 3)  # ENOMEM: the vmmap is full
        try:
            runner = await instantiate(mv.engine, cage.module, mv.imports, memory=main.memory)
        except BaseException:
            cage.vm.unmap(base, SIGNAL_STACK_SIZE)
            raise
        runner.data = cage
        if cage.tls_base is not None:
            runner.set_global("__tls_base", cage.tls_base)
        delivery.stack_top = base + SIGNAL_STACK_SIZE
        delivery.runner = runner
    return delivery.runner


__all__ = [
    "SIGSTOP", "SignalDelivery", "after_syscall", "at_preemption", "deliver", "pending_for", "post",
]
