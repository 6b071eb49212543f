"""Per-cage signal state: dispositions, the blocked mask, pending signals, default actions.

Theory of operation
-------------------
Pure state. Signal numbers are 1..64; sets are 64-bit kernel sigsets (bit ``n-1`` is signal
``n``). A signal *posted* to a cage is first judged against its disposition: ignored ones are
dropped at once (POSIX), the rest become *pending*. A pending signal that is not blocked is
*deliverable*; the runtime delivers at the next safe point (a system call returning to the guest,
or a preemption point) by running the guest's handler or the default action the table below gives.
``SIGKILL`` and ``SIGSTOP`` can be neither caught, ignored nor blocked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from lind_async.abi.errno import EINVAL, GuestError
from lind_async.abi.flags import NSIG, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, SIGKILL, SIGSTOP

SIG_DFL = 0
SIG_IGN = 1
SA_NOCLDSTOP = 0x00000001
SA_NOCLDWAIT = 0x00000002
SA_SIGINFO = 0x00000004
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000

SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE = 1, 2, 3, 4, 5, 6, 7, 8
SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT = 10, 11, 12, 13, 14, 15, 16
SIGCHLD, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGXCPU = 17, 18, 20, 21, 22, 23, 24
SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPWR, SIGSYS = 25, 26, 27, 28, 29, 30, 31

_UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))
_ALL = (1 << NSIG) - 1


class Default(enum.Enum):
    TERMINATE = "terminate"
    CORE = "core"  # terminate (a core dump, natively)
    IGNORE = "ignore"
    STOP = "stop"
    CONTINUE = "continue"


_DEFAULTS: dict[int, Default] = {
    **{s: Default.CORE for s in (SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV)},
    **{s: Default.CORE for s in (SIGXCPU, SIGXFSZ, SIGSYS)},
    **{s: Default.IGNORE for s in (SIGCHLD, SIGURG, SIGWINCH)},
    **{s: Default.STOP for s in (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU)},
    SIGCONT: Default.CONTINUE,
}


def default_action(signo: int) -> Default:
    return _DEFAULTS.get(signo, Default.TERMINATE)


def bit(signo: int) -> int:
    return 1 << (signo - 1)


@dataclass(frozen=True, slots=True)
class SigAction:
    handler: int = SIG_DFL
    flags: int = 0
    mask: int = 0


@dataclass(slots=True)
class SignalState:
    actions: dict[int, SigAction] = field(default_factory=dict)
    blocked: int = 0
    pending: int = 0
    # (call number, mask): a call that waits under a temporary mask (sigsuspend, ppoll, pselect6,
    # epoll_pwait) was interrupted; the delivery at its return runs under that mask and the
    # first handler returns to the caller's (Linux's saved_sigmask). See :meth:`defer_mask`.
    delivery_mask: tuple[int, int] | None = None

    def action(self, signo: int) -> SigAction:
        _check_signo(signo)
        return self.actions.get(signo, SigAction())

    def set_action(self, signo: int, action: SigAction) -> SigAction:
        """Install ``action``; returns the previous one. Setting a pending signal to be ignored
        discards it (POSIX)."""
        _check_signo(signo)
        if signo in (SIGKILL, SIGSTOP):
            raise GuestError(EINVAL)
        old = self.action(signo)
        self.actions[signo] = action
        if self.ignores(signo):
            self.pending &= ~bit(signo)
        return old

    def ignores(self, signo: int) -> bool:
        """Would a posted ``signo`` be discarded without effect?"""
        handler = self.action(signo).handler
        if handler == SIG_IGN:
            return signo not in (SIGKILL, SIGSTOP)
        return handler == SIG_DFL and default_action(signo) is Default.IGNORE

    def change_mask(self, how: int, value: int) -> int:
        """Apply ``rt_sigprocmask``; returns the previous mask."""
        old = self.blocked
        if how == SIG_BLOCK:
            new = old | value
        elif how == SIG_UNBLOCK:
            new = old & ~value
        elif how == SIG_SETMASK:
            new = value
        else:
            raise GuestError(EINVAL)
        self.set_mask(new)
        return old

    def set_mask(self, mask: int) -> None:
        self.blocked = mask & _ALL & ~_UNBLOCKABLE

    def post(self, signo: int) -> bool:
        """Record ``signo`` as pending unless its disposition discards it; True if recorded.
        A blocked signal is never discarded at generation (Linux): it stays pending, for
        ``sigpending``/``signalfd``, until unblocked or set to ``SIG_IGN``."""
        _check_signo(signo)
        if not self.blocked & bit(signo) and self.ignores(signo):
            return False
        self.pending |= bit(signo)
        return True

    def deliverable(self) -> int:
        """The lowest-numbered pending, unblocked signal, or 0."""
        ready = self.pending & ~self.blocked
        return (ready & -ready).bit_length() if ready else 0

    def take(self, signo: int) -> None:
        self.pending &= ~bit(signo)

    def defer_mask(self, number: int, mask: int) -> None:
        """Call ``number``, which waited under ``mask``, ends with EINTR: its delivery is due."""
        self.delivery_mask = (number, mask & _ALL & ~_UNBLOCKABLE)

    def take_delivery_mask(self, number: int) -> int | None:
        """The mask the delivery at call ``number``'s return runs under, if that call deferred
        one (any other call's stale one is dropped)."""
        entry, self.delivery_mask = self.delivery_mask, None
        if entry is None or entry[0] != number:
            return None
        return entry[1]

    def deliverable_under_deferred(self) -> bool:
        """Would a deferred delivery mask let a pending signal through?"""
        entry = self.delivery_mask
        return entry is not None and bool(self.pending & ~entry[1])

    def fork(self) -> SignalState:
        """A child inherits dispositions and mask; pending signals are not inherited."""
        return SignalState(dict(self.actions), self.blocked, 0)

    def reset_for_exec(self) -> None:
        """POSIX: caught signals revert to default; ignored stay ignored; mask and pending kept."""
        self.actions = {s: a for s, a in self.actions.items() if a.handler == SIG_IGN}


def _check_signo(signo: int) -> None:
    if not 1 <= signo <= NSIG:
        raise GuestError(EINVAL)
