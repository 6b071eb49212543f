"""The cage lifecycle state machine (core/lifecycle.py): every legal move, every illegal one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lind_async.core.lifecycle import IllegalTransition, Lifecycle, Phase, proc_state
from lind_async.core.proctable import State

IMAGE = object()


def in_phase(phase: Phase, *, held: bool = False) -> Lifecycle:
    """A lifecycle brought to ``phase`` by legal moves only (``held``: a stop held over an exec)."""
    life = Lifecycle()
    if phase is Phase.STOPPED:
        life.stop()
    elif phase is Phase.EXEC_PENDING:
        life.begin_exec(IMAGE)
        if held:
            life.stop()
    elif phase is Phase.EXITED:
        life.exit(3 << 8)
    elif phase is Phase.REAPED:
        life.exit(3 << 8)
        life.reap()
    assert life.phase is phase
    return life


MOVES: dict[str, Callable[[Lifecycle], object]] = {
    "stop": Lifecycle.stop,
    "resume": Lifecycle.resume,
    "begin_exec": lambda life: life.begin_exec(IMAGE),
    "end_exec": Lifecycle.end_exec,
    "kill": lambda life: life.kill(9),
    "exit": lambda life: life.exit(9),
    "reap": Lifecycle.reap,
}

# (phase, stop held, move) -> (phase after, stopped after)
LEGAL: dict[tuple[Phase, bool, str], tuple[Phase, bool]] = {
    (Phase.RUNNING, False, "stop"): (Phase.STOPPED, True),
    (Phase.RUNNING, False, "begin_exec"): (Phase.EXEC_PENDING, False),
    (Phase.RUNNING, False, "kill"): (Phase.RUNNING, False),
    (Phase.RUNNING, False, "exit"): (Phase.EXITED, False),
    (Phase.STOPPED, False, "resume"): (Phase.RUNNING, False),
    (Phase.STOPPED, False, "begin_exec"): (Phase.EXEC_PENDING, True),
    (Phase.STOPPED, False, "kill"): (Phase.STOPPED, True),
    (Phase.STOPPED, False, "exit"): (Phase.EXITED, False),
    (Phase.EXEC_PENDING, False, "stop"): (Phase.EXEC_PENDING, True),
    (Phase.EXEC_PENDING, False, "begin_exec"): (Phase.EXEC_PENDING, False),
    (Phase.EXEC_PENDING, False, "end_exec"): (Phase.RUNNING, False),
    (Phase.EXEC_PENDING, False, "kill"): (Phase.EXEC_PENDING, False),
    (Phase.EXEC_PENDING, False, "exit"): (Phase.EXITED, False),
    (Phase.EXEC_PENDING, True, "resume"): (Phase.EXEC_PENDING, False),
    (Phase.EXEC_PENDING, True, "begin_exec"): (Phase.EXEC_PENDING, True),
    (Phase.EXEC_PENDING, True, "end_exec"): (Phase.STOPPED, True),
    (Phase.EXEC_PENDING, True, "kill"): (Phase.EXEC_PENDING, True),
    (Phase.EXEC_PENDING, True, "exit"): (Phase.EXITED, False),
    (Phase.EXITED, False, "reap"): (Phase.REAPED, False),
}

STARTS = [(phase, False) for phase in Phase] + [(Phase.EXEC_PENDING, True)]
ILLEGAL = [
    (phase, held, move)
    for phase, held in STARTS
    for move in MOVES
    if (phase, held, move) not in LEGAL
]


@pytest.mark.parametrize(("phase", "held", "move"), sorted(LEGAL, key=str))
def test_legal_move(phase: Phase, held: bool, move: str) -> None:
    life = in_phase(phase, held=held)
    MOVES[move](life)
    after, stopped = LEGAL[phase, held, move]
    assert (life.phase, life.stopped) == (after, stopped)


@pytest.mark.parametrize(("phase", "held", "move"), sorted(ILLEGAL, key=str))
def test_illegal_move_raises_and_changes_nothing(phase: Phase, held: bool, move: str) -> None:
    life = in_phase(phase, held=held)
    before = (life.phase, life.stopped, life.status, life.kill_status, life.exec_image)
    with pytest.raises(IllegalTransition) as info:
        MOVES[move](life)
    assert info.value.phase is phase and info.value.move == move
    assert (life.phase, life.stopped, life.status, life.kill_status, life.exec_image) == before


def test_every_move_from_every_start_is_classified() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(STARTS) * len(MOVES)


def test_exit_records_the_wait_status_and_drops_a_pending_exec() -> None:
    life = in_phase(Phase.EXEC_PENDING, held=True)
    life.exit(11)
    assert (life.status, life.exec_image, life.stop_held, life.live) == (11, None, False, False)


def test_exec_image_is_handed_over_once() -> None:
    life = Lifecycle()
    life.begin_exec(IMAGE)
    assert life.exec_image is IMAGE
    assert life.end_exec() is IMAGE
    assert life.exec_image is None


def test_a_later_exec_replaces_the_pending_image() -> None:
    life = Lifecycle()
    life.begin_exec(IMAGE)
    later = object()
    life.begin_exec(later)
    assert life.end_exec() is later


def test_kill_records_the_status_once_without_moving() -> None:
    life = Lifecycle()
    life.kill(9)
    assert (life.phase, life.kill_status, life.status) == (Phase.RUNNING, 9, None)
    with pytest.raises(IllegalTransition):
        life.kill(15)
    life.exit(9)
    assert life.status == 9


def test_a_stop_held_over_an_exec_then_continued() -> None:
    life = Lifecycle()
    life.stop()
    life.begin_exec(IMAGE)
    assert life.stopped
    life.resume()
    assert not life.stopped
    life.end_exec()
    assert (life.phase, life.stopped) == (Phase.RUNNING, False)


@pytest.mark.parametrize(
    ("phase", "held", "state"),
    [
        (Phase.RUNNING, False, State.RUNNING),
        (Phase.STOPPED, False, State.STOPPED),
        (Phase.EXEC_PENDING, False, State.RUNNING),
        (Phase.EXEC_PENDING, True, State.STOPPED),
        (Phase.EXITED, False, State.ZOMBIE),
        (Phase.REAPED, False, None),
    ],
)
def test_process_table_view(phase: Phase, held: bool, state: State | None) -> None:
    assert proc_state(in_phase(phase, held=held)) is state
