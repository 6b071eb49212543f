"""Signals sent to the microvisor's host process, passed on to the cage it runs.

Theory of operation
-------------------
``python -m lind_async run prog`` stands where ``prog`` would stand natively, so the signals a
shell, a terminal or ``kill`` send to it belong to the program. :class:`SignalRelay` installs a
loop handler for each of :data:`RELAYED` and posts the signal to the cage as ``kill`` would:

- a terminal's signals (``SIGINT``, ``SIGQUIT``, ``SIGTSTP``, ``SIGWINCH``, and ``SIGCONT``, which
  a shell sends to a whole job when it resumes it) go to the program's process group, as the
  terminal sends them to the foreground process group;
- the others (``SIGTERM``, ``SIGHUP``, ``SIGUSR1``, ``SIGUSR2``) go to the program alone, as
  ``kill PID`` would.

The program's disposition decides the rest: its handler runs, or the default action ends it and
the microvisor exits with its status (``128+N``). A stop (``SIGTSTP`` with no handler) stops the
cage; the relay then stops the microvisor's own process too, so the shell sees the job stopped,
and the ``SIGCONT`` that resumes the job resumes the cage.

A signal the host process inherited as ignored (``nohup``, a background job of a non-interactive
shell) starts ignored in the cage, as a native program inherits ignored dispositions across
``exec`` (:func:`inherited_ignored`); it is still relayed, because the program may install a
handler for it, and then it should arrive as it would natively. ``SIGPIPE`` is the exception: Python
ignores it itself at start-up, so what the parent wanted cannot be known; it stays default.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage

GROUP_SIGNALS = frozenset(
    {signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGWINCH, signal.SIGCONT}
)
PROCESS_SIGNALS = frozenset(
    {signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}
)
RELAYED = GROUP_SIGNALS | PROCESS_SIGNALS

_STOP_POLL = 0.01  # seconds between checks that a SIGTSTP stopped the program
_STOP_CHECKS = 50


def inherited_ignored() -> frozenset[int]:
    """The relayed signals this host process was started with ignored (``SIG_IGN``)."""
    return frozenset(s for s in RELAYED if signal.getsignal(s) == signal.SIG_IGN)


class SignalRelay:
    """Relays the host process's signals to ``cage`` (see the module docstring) while installed."""

    def __init__(self, cage: Cage) -> None:
        self.cage = cage
        self.signals = sorted(RELAYED)
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signo in self.signals:
            loop.add_signal_handler(signo, self._relay, signo)
        self._loop = loop

    def remove(self) -> None:
        if self._loop is None:
            return
        for signo in self.signals:
            self._loop.remove_signal_handler(signo)
        self._loop = None

    def _relay(self, signo: int) -> None:
        cage = self.cage
        if cage.status is not None:
            return
        mv = cage.microvisor
        if signo in GROUP_SIGNALS and cage.cage_id in mv.procs:
            targets = mv.procs.group(mv.procs.get(cage.cage_id).pgid) or [cage.cage_id]
        else:
            targets = [cage.cage_id]
        for pid in targets:
            member = mv.cages.get(pid)
            if member is not None and member.status is None:
                member.post_signal(signo)
        if signo == signal.SIGTSTP:
            asyncio.get_running_loop().create_task(self._follow_stop())

    async def _follow_stop(self) -> None:
        """Stop this process once the program has stopped, so the shell sees the job stop."""
        for _ in range(_STOP_CHECKS):
            await asyncio.sleep(_STOP_POLL)
            if self.cage.status is not None:
                return
            if self.cage.is_stopped:
                os.kill(os.getpid(), signal.SIGSTOP)
                return
