"""The process table: parent/child links, process groups and sessions, zombies and wait status.

Theory of operation
-------------------
One record per cage (pid == cage id). A top-level cage (started by the embedding program or the
CLI) has parent 0, *the microvisor*, which reaps it itself. When a cage exits its record becomes a
zombie holding its Linux wait status until the parent collects it with ``wait4``; its own children
are re-parented to the nearest living ancestor that made itself a *subreaper*
(``prctl(PR_SET_CHILD_SUBREAPER)``, as on Linux), else to the *reaper of their own family*: the
top-level cage their creation lineage starts from (the family's init), or to the microvisor when
that one is gone, and the microvisor reaps those at once. An orphan never moves into another
family: the first cage of a world is not everybody's init.

Two records never change after creation, and authority (``threei/authority.py``) is read from
them, never from the re-parentable ``ppid``:

- ``lineage``: the creation ancestors, nearest first (fork, vfork and clone children extend their
  creator's); re-parenting does not touch it;
- ``image``: the *principal* whose program the process runs: itself once it was started from a
  program or ran ``execve`` (:meth:`ProcTable.exec`), its creator's principal while it is a fork
  that has not exec'd (it runs the same code, so it speaks for the same principal).

Wait statuses use Linux's encoding: ``code << 8`` (exited), ``signo`` (killed, ``| 0x80`` with a
core dump), ``signo << 8 | 0x7f`` (stopped), ``0xffff`` (continued).

Pure state: no I/O, no event loop. The runtime wakes waiting parents when :meth:`ProcTable.exit`
or a stop/continue says a parent has something to collect.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from lind_async.abi.errno import ECHILD, EINVAL, EPERM, ESRCH, GuestError

MICROVISOR = 0
WNOHANG = 1
WUNTRACED = 2
WCONTINUED = 8
_WAIT_FLAGS = WNOHANG | WUNTRACED | WCONTINUED | 0x40000000 | 0x20000000  # __WNOTHREAD, __WALL
CONTINUED_STATUS = 0xFFFF


def _KEEPS(parent: int) -> bool:
    """Default for :meth:`ProcTable.exit`'s ``autoreap``: every parent keeps its zombies."""
    return False


def exited(code: int) -> int:
    return (code & 0xFF) << 8


def killed(signo: int) -> int:
    return signo & 0x7F


def stopped(signo: int) -> int:
    return (signo << 8) | 0x7F


class State(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"
    ZOMBIE = "zombie"


@dataclass(slots=True)
class Process:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: State = State.RUNNING
    status: int | None = None  # the wait status once a zombie
    children: set[int] = field(default_factory=set)
    # A stop or continue not yet reported to a WUNTRACED / WCONTINUED waiter.
    unreported: int | None = None
    subreaper: bool = False  # PR_SET_CHILD_SUBREAPER: adopts its descendants' orphans
    lineage: tuple[int, ...] = ()  # creation ancestors, nearest first (never re-parented)
    image: int = 0  # the principal whose program it runs (itself once it has exec'd)


class ProcTable:
    """All processes of one microvisor."""

    __slots__ = ("_procs",)

    def __init__(self) -> None:
        self._procs: dict[int, Process] = {}

    def __contains__(self, pid: int) -> bool:
        return pid in self._procs

    def get(self, pid: int) -> Process:
        proc = self._procs.get(pid)
        if proc is None:
            raise GuestError(ESRCH)
        return proc

    def add(self, pid: int, ppid: int) -> Process:
        """A new process: a child inherits its parent's group and session; a top-level cage leads
        its own session and group."""
        if pid in self._procs or pid <= 0:
            raise ValueError(f"bad new pid {pid}")
        if ppid == MICROVISOR:
            proc = Process(pid, MICROVISOR, pid, pid, image=pid)
        else:
            parent = self.get(ppid)
            proc = Process(
                pid, ppid, parent.pgid, parent.sid, lineage=(ppid, *parent.lineage),
                image=parent.image,
            )
            parent.children.add(pid)
        self._procs[pid] = proc
        return proc

    # -- ending ---------------------------------------------------------------------------------
    def exit(self, pid: int, status: int, autoreap: Callable[[int], bool] = _KEEPS) -> list[int]:
        """``pid`` ended with ``status``. Returns the pids whose parents must be woken (this one's
        parent, and the new parent when it inherits zombies). Orphans go to a subreaper or to their
        family's reaper.

        ``autoreap(parent)`` says whether a parent keeps no zombies (it ignores ``SIGCHLD`` or set
        ``SA_NOCLDWAIT``): then the child is released at once, as Linux does, and the parent is
        still woken, so a ``wait`` with no child left ends with ``ECHILD``."""
        proc = self.get(pid)
        proc.state, proc.status, proc.unreported = State.ZOMBIE, status, None
        wake = [proc.ppid] if proc.ppid != MICROVISOR else []
        new_parent = self._subreaper_above(proc)
        if new_parent is None:
            new_parent = self._family_reaper(proc)
        for child_pid in sorted(proc.children):
            child = self._procs[child_pid]
            child.ppid = new_parent
            if child.ppid == MICROVISOR:
                if child.state is State.ZOMBIE:
                    self._procs.pop(child_pid)
            elif child.state is State.ZOMBIE and autoreap(child.ppid):
                self._procs.pop(child_pid)  # adopted by a parent that keeps no zombies
            else:
                self._procs[child.ppid].children.add(child_pid)
                if child.state is State.ZOMBIE:
                    wake.append(child.ppid)
        proc.children.clear()
        if proc.ppid == MICROVISOR:
            self._procs.pop(pid)  # the microvisor keeps the status on the cage object itself
        elif autoreap(proc.ppid):
            self._procs[proc.ppid].children.discard(pid)
            self._procs.pop(pid)
        return sorted(set(wake))

    def _subreaper_above(self, proc: Process) -> int | None:
        """The nearest living ancestor of ``proc`` that is a subreaper (Linux's find_new_reaper)."""
        seen = 0
        while proc.ppid != MICROVISOR and seen < len(self._procs):
            up = self._procs.get(proc.ppid)
            if up is None:
                return None
            if up.subreaper and up.state is not State.ZOMBIE:
                return up.pid
            proc, seen = up, seen + 1
        return None

    def _family_reaper(self, proc: Process) -> int:
        """The living top-level cage ``proc`` descends from (the family's init), else the
        microvisor."""
        top = proc.lineage[-1] if proc.lineage else proc.pid
        keeper = self._procs.get(top)
        if top == proc.pid or keeper is None or keeper.state is State.ZOMBIE:
            return MICROVISOR
        return top

    def exec(self, pid: int) -> None:
        """``pid`` runs a new program: from now on it is its own principal."""
        proc = self._procs.get(pid)
        if proc is not None:
            proc.image = pid

    def stop(self, pid: int, signo: int) -> int | None:
        """Mark stopped; returns the parent to notify (or None)."""
        proc = self.get(pid)
        if proc.state is not State.RUNNING:
            return None
        proc.state, proc.unreported = State.STOPPED, stopped(signo)
        return proc.ppid if proc.ppid != MICROVISOR else None

    def resume(self, pid: int) -> int | None:
        """Mark continued; returns the parent to notify (or None)."""
        proc = self.get(pid)
        if proc.state is not State.STOPPED:
            return None
        proc.state, proc.unreported = State.RUNNING, CONTINUED_STATUS
        return proc.ppid if proc.ppid != MICROVISOR else None

    # -- waiting ---------------------------------------------------------------------------------
    def wait(self, parent: int, which: int, options: int) -> tuple[int, int] | None:
        """One reportable child of ``parent`` matching ``which`` (wait4's pid argument), as
        ``(pid, status)``; a zombie reported is reaped. ``None``: matching children exist but none
        has anything to report yet. ``ECHILD``: no matching child at all."""
        if options & ~_WAIT_FLAGS:
            raise GuestError(EINVAL)
        me = self.get(parent)
        matching = [self._procs[c] for c in sorted(me.children) if self._matches(c, which, me)]
        if not matching:
            raise GuestError(ECHILD)
        for child in matching:
            if child.state is State.ZOMBIE:
                assert child.status is not None
                me.children.discard(child.pid)
                del self._procs[child.pid]
                return child.pid, child.status
        for child in matching:
            report = child.unreported
            if report is None:
                continue
            wanted = WCONTINUED if report == CONTINUED_STATUS else WUNTRACED
            if options & wanted:
                child.unreported = None
                return child.pid, report
        return None

    def _matches(self, pid: int, which: int, parent: Process) -> bool:
        proc = self._procs[pid]
        if which == -1:
            return True
        if which > 0:
            return pid == which
        if which == 0:
            return proc.pgid == parent.pgid
        return proc.pgid == -which

    # -- groups and sessions ---------------------------------------------------------------------
    def setpgid(self, caller: int, pid: int, pgid: int) -> None:
        me = self.get(caller)
        target_pid = pid or caller
        if pgid < 0:
            raise GuestError(EINVAL)
        target = self._procs.get(target_pid)
        if target is None or (target_pid != caller and target.ppid != caller):
            raise GuestError(ESRCH)
        if target.sid != me.sid or target.sid == target.pid:
            raise GuestError(EPERM)
        new_pgid = pgid or target_pid
        if new_pgid != target_pid and not any(
            p.pgid == new_pgid and p.sid == me.sid for p in self._procs.values()
        ):
            raise GuestError(EPERM)
        target.pgid = new_pgid

    def setsid(self, pid: int) -> int:
        proc = self.get(pid)
        if any(p.pgid == pid for p in self._procs.values()):
            raise GuestError(EPERM)  # already a process-group leader
        proc.sid = proc.pgid = pid
        return pid

    def group(self, pgid: int) -> list[int]:
        """Live members of a process group (for ``kill(-pgid)``)."""
        return sorted(
            p.pid for p in self._procs.values() if p.pgid == pgid and p.state is not State.ZOMBIE
        )

    def live(self) -> list[int]:
        return sorted(p.pid for p in self._procs.values() if p.state is not State.ZOMBIE)

    def is_ancestor(self, ancestor: int, pid: int) -> bool:
        """Did ``ancestor`` (or a descendant of it) create ``pid``? Creation lineage only:
        re-parenting an orphan gives its new parent no authority over it."""
        proc = self._procs.get(pid)
        return proc is not None and ancestor in proc.lineage

    def principal(self, pid: int) -> int:
        """Whose program ``pid`` runs (see the module docstring); an id that is not a process
        (a Python grate) is its own principal."""
        proc = self._procs.get(pid)
        return pid if proc is None else proc.image
