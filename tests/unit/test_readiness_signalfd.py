"""signalfd's pure parts: blocked signals stay pending to be read, records, the posted hook."""

from __future__ import annotations

import struct
from typing import Any

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.core.signals import SIGCHLD, SIGUSR1, SIGUSR2, SignalState, bit
from lind_async.rawposix.signalfd import RECORD, SignalFd


class _Cage:
    """What a signalfd reads of a cage: its signal state and senders."""

    def __init__(self) -> None:
        self.signals = SignalState()
        self.sender: dict[int, int] = {}


def _cage() -> Any:
    return _Cage()


def test_blocked_default_ignored_signal_stays_pending() -> None:
    state = SignalState()
    assert not state.post(SIGCHLD)  # unblocked and ignored by default: discarded
    state.set_mask(bit(SIGCHLD))
    assert state.post(SIGCHLD)  # blocked: pending (Linux), for sigpending/signalfd
    assert state.pending & bit(SIGCHLD)
    assert not state.deliverable()


def test_read_takes_masked_signals_lowest_first() -> None:
    cage = _cage()
    cage.signals.set_mask(bit(SIGUSR1) | bit(SIGUSR2))
    cage.signals.post(SIGUSR2)
    cage.signals.post(SIGUSR1)
    cage.sender[SIGUSR1] = 7
    sfd = SignalFd(cage, bit(SIGUSR1) | bit(SIGUSR2) | bit(F.SIGKILL), 0)
    assert not sfd.mask & bit(F.SIGKILL)
    assert sfd.poll_mask() & F.POLLIN
    buf = memoryview(bytearray(2 * RECORD + 10))
    assert sfd._take(cage, buf) == 2 * RECORD
    first = L.SIGNALFD_SIGINFO.unpack_from(buf, 0)
    second = L.SIGNALFD_SIGINFO.unpack_from(buf, RECORD)
    assert (first["ssi_signo"], first["ssi_pid"]) == (SIGUSR1, 7)
    assert second["ssi_signo"] == SIGUSR2
    assert cage.signals.pending == 0
    assert sfd.poll_mask() == 0
    assert struct.calcsize(L.SIGNALFD_SIGINFO.fmt) == RECORD == 128


def test_unmasked_signals_are_left_alone() -> None:
    cage = _cage()
    cage.signals.set_mask(bit(SIGUSR2))
    cage.signals.post(SIGUSR2)
    sfd = SignalFd(cage, bit(SIGUSR1), 0)
    assert sfd._take(cage, memoryview(bytearray(RECORD))) == 0
    assert cage.signals.pending == bit(SIGUSR2)
