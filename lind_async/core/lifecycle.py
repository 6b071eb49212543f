"""A cage's lifecycle: running, stopped, exec pending, exited, reaped, and the moves between them.

Theory of operation
-------------------
:class:`Lifecycle` is a pure state machine (no I/O, no event loop, no wasm): the runtime's cage
(``runtime/cage.py``) asks it to move and acts on the answer (clears its "continued" event, wakes a
parent, cancels its tasks). An illegal move raises :class:`IllegalTransition`: it is a bug in the
caller, never a guest's doing, because the cage checks the phase first wherever a guest can ask for
something that does not apply (a ``SIGCONT`` to a running cage is ignored, as on Linux).

The phases and their moves::

    RUNNING ──stop──▶ STOPPED ──resume──▶ RUNNING            (SIGSTOP & co. / SIGCONT)
    RUNNING ──begin_exec──▶ EXEC_PENDING ──end_exec──▶ RUNNING  (execve from a secondary thread)
    EXEC_PENDING ──begin_exec──▶ EXEC_PENDING                  (a later image replaces the first)
    RUNNING | STOPPED | EXEC_PENDING ──exit(status)──▶ EXITED ──reap──▶ REAPED

``EXEC_PENDING`` is the window between a secondary thread's successful ``execve`` and the main
task swapping in the new program (``Cage.exec_from_thread``, ``Cage._run_main``): the new image
waits here (:attr:`Lifecycle.exec_image`). A job-control stop that arrives in that window, or an
exec that completes while the cage is stopped, does not lose either: the stop is *held*
(:attr:`Lifecycle.stop_held`) across the window and :meth:`Lifecycle.end_exec` lands in
``STOPPED``, so the new program halts at its first safe point, as the cage always did.
:attr:`Lifecycle.stopped` is the job-control answer ("halt at the next safe point") in every phase.

``kill(status)`` is not a move: it records the status a fatal signal from outside ends the cage
with (:attr:`Lifecycle.kill_status`) while its tasks are cancelled; the cage reaches ``EXITED``
when its task finishes (``exit`` with that status).

The split with the process table
--------------------------------
``core/proctable.py`` is the *parent's* view of a process, and it owns what a parent can see:
its ``State`` is RUNNING / STOPPED / ZOMBIE, the stop or continue not yet reported to ``wait4``,
and the wait status of a zombie. Reaping is the process table's: ``wait4`` (or a parent that keeps
no zombies, or the microvisor for a top-level cage) deletes the record. This module is the *cage's*
own view, which has more phases (``EXEC_PENDING`` and the held stop are invisible to a parent) and
outlives the record for the cage object's holders. The two agree by construction: the cage calls
``ProcTable.stop``/``resume``/``exit`` exactly when its lifecycle moves to ``STOPPED``/``RUNNING``/
``EXITED`` (``Cage.stop``, ``Cage.resume``, ``Microvisor.cage_exited``), and moves to ``REAPED``
when the microvisor releases the cage with no record left to collect. :func:`proc_state` maps a
lifecycle onto the process table's ``State``; a cage reaped by a parent's ``wait4`` is out of every
table by then, so nothing reads its phase again (it stays ``EXITED``).
"""

from __future__ import annotations

import enum

from lind_async.core.proctable import State


class Phase(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"
    EXEC_PENDING = "exec pending"
    EXITED = "exited"
    REAPED = "reaped"


LIVE = frozenset({Phase.RUNNING, Phase.STOPPED, Phase.EXEC_PENDING})


class IllegalTransition(RuntimeError):
    """A move the lifecycle does not allow from the current phase (a bug in the caller)."""

    def __init__(self, phase: Phase, move: str) -> None:
        super().__init__(f"cage lifecycle: {move} is illegal when {phase.value}")
        self.phase = phase
        self.move = move


class Lifecycle:
    """One cage's phase, the wait status once exited, and what a pending exec will run."""

    __slots__ = ("exec_image", "kill_status", "phase", "status", "stop_held")

    def __init__(self) -> None:
        self.phase = Phase.RUNNING
        self.status: int | None = None  # the Linux wait status, from EXITED on
        self.kill_status: int | None = None  # a fatal signal from outside ends it with this
        self.exec_image: object | None = None  # what EXEC_PENDING will run (opaque here)
        self.stop_held = False  # stopped during (or into) EXEC_PENDING; STOPPED once it ends

    @property
    def live(self) -> bool:
        return self.phase in LIVE

    @property
    def stopped(self) -> bool:
        """Job-controlled: the cage halts at its next safe point until it is resumed."""
        return self.phase is Phase.STOPPED or (self.phase is Phase.EXEC_PENDING and self.stop_held)

    def _illegal(self, move: str) -> IllegalTransition:
        return IllegalTransition(self.phase, move)

    def stop(self) -> None:
        """RUNNING → STOPPED; in EXEC_PENDING the stop is held until the exec ends."""
        if self.phase is Phase.RUNNING:
            self.phase = Phase.STOPPED
        elif self.phase is Phase.EXEC_PENDING and not self.stop_held:
            self.stop_held = True
        else:
            raise self._illegal("stop")

    def resume(self) -> None:
        """STOPPED → RUNNING; in EXEC_PENDING a held stop is dropped."""
        if self.phase is Phase.STOPPED:
            self.phase = Phase.RUNNING
        elif self.phase is Phase.EXEC_PENDING and self.stop_held:
            self.stop_held = False
        else:
            raise self._illegal("resume")

    def begin_exec(self, image: object) -> None:
        """RUNNING (or STOPPED, the stop held) → EXEC_PENDING with the new program's image; in
        EXEC_PENDING a later exec's image replaces the earlier one (the last ``execve`` wins)."""
        if self.phase is Phase.RUNNING:
            self.stop_held = False
        elif self.phase is Phase.STOPPED:
            self.stop_held = True
        elif self.phase is not Phase.EXEC_PENDING:
            raise self._illegal("begin_exec")
        self.phase, self.exec_image = Phase.EXEC_PENDING, image

    def end_exec(self) -> object:
        """EXEC_PENDING → RUNNING (STOPPED if a stop is held); returns the image to run."""
        if self.phase is not Phase.EXEC_PENDING:
            raise self._illegal("end_exec")
        image, self.exec_image = self.exec_image, None
        self.phase = Phase.STOPPED if self.stop_held else Phase.RUNNING
        self.stop_held = False
        return image

    def kill(self, status: int) -> None:
        """A fatal signal from outside: the cage will exit with ``status`` (no move yet)."""
        if not self.live or self.kill_status is not None:
            raise self._illegal("kill")
        self.kill_status = status

    def exit(self, status: int) -> None:
        """Any live phase → EXITED with the Linux wait status ``status``."""
        if not self.live:
            raise self._illegal("exit")
        self.phase, self.status = Phase.EXITED, status
        self.exec_image, self.stop_held = None, False

    def reap(self) -> None:
        """EXITED → REAPED: nobody is left to collect the status."""
        if self.phase is not Phase.EXITED:
            raise self._illegal("reap")
        self.phase = Phase.REAPED


def proc_state(life: Lifecycle) -> State | None:
    """What the process table shows a parent for a cage with ``life`` (None: no record left)."""
    if life.phase is Phase.REAPED:
        return None
    if life.phase is Phase.EXITED:
        return State.ZOMBIE
    return State.STOPPED if life.stopped else State.RUNNING
