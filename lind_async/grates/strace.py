"""``strace``: the calls of the cages it is attached to (and their children), as ``strace -f``
shows them, on stderr (or in a file: ``--grate strace:FILE``).

    openat(AT_FDCWD, "data.txt", O_RDONLY|O_CLOEXEC) = 3
    fstat(3, {st_mode=S_IFREG|0644, st_size=14, ...}) = 0
    ioctl(3, TCGETS, 0xffe94) = -1 ENOTTY (Inappropriate ioctl for device)
    [pid     1] wait4(3,  <unfinished ...>
    [pid     3] exit_group(3) = ?
    [pid     3] +++ exited with 3 +++
    <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 3
    --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=3, si_uid=0, si_status=3, ...} ---
    syscall_0x270f(0x1, 0x2, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)

Decoding is :mod:`strace_decode`'s (argument kinds per call), written in :mod:`strace_notation`'s
notation; the layout is :mod:`strace_lines`'s (``[pid N]`` prefixes, ``<unfinished ...>`` /
``<... resumed>``). Here: the grate, which sees each call start and return (it forwards it
unchanged), sees unknown numbers too (it registers 3i's
:data:`~lind_async.threei.tables.UNKNOWN_CALLS` route), prints ``+++ exited with N +++`` when an
``exit_group`` it forwarded ended the cage and ``+++ killed by SIG +++`` when told of a harsh exit,
and a ``--- SIG {siginfo} ---`` line for every signal sent to a traced cage (its ``on_signal``
observer): after the call the cage is in, when it is in one (where Linux delivers it), else at
once. The differences from strace: lines are not aligned to column 40 (``strace -a0``); the
first ``execve`` (the runtime starting the program) is not a call and is not shown; threads of a
cage share its pid.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

from lind_async.abi.flags import SIGKILL
from lind_async.abi.syscalls import SYS_fork, SYS_vfork
from lind_async.core.signals import SIGCHLD
from lind_async.grates.strace_decode import Plan
from lind_async.grates.strace_lines import TraceLines
from lind_async.grates.strace_notation import (
    open_flags,
    quote,
    result_text,
    signal_info,
    signal_name,
)
from lind_async.rawposix.kernel import CageExit
from lind_async.threei.python_grates import Call, Grate, all_numbers
from lind_async.threei.tables import UNKNOWN_CALLS

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Strace", "open_flags", "quote", "result_text"]

_ENDS = frozenset({"exit", "exit_group"})  # calls that do not return to the caller


class Strace(Grate):
    """Trace every call of the cages it is attached to (and their children)."""

    name = "strace"

    def __init__(self, out: TextIO | str | None = None) -> None:
        to_file = isinstance(out, str)
        if isinstance(out, str):
            out = open(out, "a", encoding="utf-8")  # noqa: SIM115 (lives as long as the grate)
        self.lines = TraceLines(out or sys.stderr, to_file=to_file)
        self._ended: dict[int, int] = {}  # wait status of traced cages that ended (for SIGCHLD)
        self._signals: dict[int, list[str]] = {}  # lines due when a cage's call returns

    def numbers(self) -> Iterable[int]:
        return [*all_numbers(), UNKNOWN_CALLS]

    async def syscall(self, call: Call) -> int:
        pid = call.caller
        plan = Plan(call)
        entry = self.lines.enter(pid, plan.name, plan.head)
        if plan.name in _ENDS:
            self.lines.finish(entry, "", "?")
            result = await call.forward()
            if isinstance(call.effect, CageExit):
                self._exited(pid, call.effect.status)
            return result
        try:
            result = await call.forward()
        except BaseException:  # the cage ended in the call: it never returns
            self.lines.abandon(entry)
            raise
        self.lines.finish(entry, plan.tail(result), result_text(plan.name, result, call))
        if call.number in (SYS_fork, SYS_vfork) and result > 0:
            self.lines.live.add(result)
        for line in self._signals.pop(pid, ()):
            self.lines.event(pid, line)
        return result

    def on_cage_exit(self, cage_id: int, status: int) -> None:
        self._exited(cage_id, status)

    def on_signal(self, cage_id: int, signo: int, sender: int) -> None:
        if cage_id not in self.lines.live or signo == SIGKILL:
            return  # not traced; SIGKILL shows as "+++ killed by SIGKILL +++"
        status = self._ended.pop(sender, None) if signo == SIGCHLD else None
        line = f"--- {signal_name(signo)} {signal_info(signo, sender, os.getuid(), status)} ---"
        if self.lines.busy(cage_id):
            self._signals.setdefault(cage_id, []).append(line)  # delivered when the call returns
        else:
            self.lines.event(cage_id, line)

    def _exited(self, pid: int, status: int) -> None:
        """Cage ``pid`` ended with wait ``status``: its calls in flight never return."""
        if pid not in self.lines.live:
            return
        for entry in list(self.lines.in_flight.get(pid, ())):
            self.lines.abandon(entry)
        self._signals.pop(pid, None)
        if status & 0x7F == 0:
            text = f"+++ exited with {(status >> 8) & 0xFF} +++"
        else:
            core = " (core dumped)" if status & 0x80 else ""
            text = f"+++ killed by {signal_name(status & 0x7F)}{core} +++"
        self.lines.event(pid, text)
        self.lines.live.discard(pid)
        self._ended[pid] = status
