"""Per-cage signal state: dispositions and the blocked mask (recorded; delivery comes later).

Pure state. Signal numbers are 1..64; masks are 64-bit kernel sigsets (bit ``n-1`` is signal ``n``).
``SIGKILL`` and ``SIGSTOP`` can be neither caught nor blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lind_async.abi.errno import EINVAL, GuestError
from lind_async.abi.flags import NSIG, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, SIGKILL, SIGSTOP

SIG_DFL = 0
SIG_IGN = 1
_UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))
_ALL = (1 << NSIG) - 1


@dataclass(frozen=True, slots=True)
class SigAction:
    handler: int = SIG_DFL
    flags: int = 0
    mask: int = 0


@dataclass(slots=True)
class SignalState:
    actions: dict[int, SigAction] = field(default_factory=dict)
    blocked: int = 0

    def action(self, signo: int) -> SigAction:
        _check_signo(signo)
        return self.actions.get(signo, SigAction())

    def set_action(self, signo: int, action: SigAction) -> SigAction:
        """Install ``action``; returns the previous one."""
        _check_signo(signo)
        if signo in (SIGKILL, SIGSTOP):
            raise GuestError(EINVAL)
        old = self.action(signo)
        self.actions[signo] = action
        return old

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
        self.blocked = new & _ALL & ~_UNBLOCKABLE
        return old

    def fork(self) -> SignalState:
        return SignalState(dict(self.actions), self.blocked)

    def reset_for_exec(self) -> None:
        """POSIX: caught signals revert to default; ignored stay ignored; the mask is kept."""
        self.actions = {s: a for s, a in self.actions.items() if a.handler == SIG_IGN}


def _check_signo(signo: int) -> None:
    if not 1 <= signo <= NSIG:
        raise GuestError(EINVAL)
