"""Signal state: recorded dispositions and masks."""

import pytest

from lind_async.abi.errno import GuestError
from lind_async.abi.flags import SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK
from lind_async.core.signals import SIG_IGN, SigAction, SignalState


def bit(n: int) -> int:
    return 1 << (n - 1)


def test_mask_operations_and_unblockable_signals() -> None:
    s = SignalState()
    assert s.change_mask(SIG_BLOCK, bit(2) | bit(9) | bit(19)) == 0
    assert s.blocked == bit(2)  # SIGKILL/SIGSTOP cannot be blocked
    s.change_mask(SIG_UNBLOCK, bit(2))
    assert s.blocked == 0
    s.change_mask(SIG_SETMASK, bit(10))
    assert s.blocked == bit(10)
    with pytest.raises(GuestError):
        s.change_mask(7, 0)


def test_actions_recorded_and_exec_resets_caught_only() -> None:
    s = SignalState()
    assert s.set_action(2, SigAction(handler=0x1234)).handler == 0
    s.set_action(15, SigAction(handler=SIG_IGN))
    child = s.fork()
    s.reset_for_exec()
    assert s.action(2).handler == 0 and s.action(15).handler == SIG_IGN
    assert child.action(2).handler == 0x1234
    with pytest.raises(GuestError):
        s.set_action(9, SigAction(handler=SIG_IGN))
    with pytest.raises(GuestError):
        s.action(65)


def test_deferred_delivery_mask_belongs_to_one_call() -> None:
    """sigsuspend-like calls leave the mask their delivery runs under; only that call's return
    takes it, any other drops it; SIGKILL/SIGSTOP cannot be in it; a child does not inherit it."""
    s = SignalState()
    usr1 = 1 << (10 - 1)
    s.post(10)
    s.set_mask(usr1)
    assert not s.deliverable_under_deferred()
    s.defer_mask(130, 0)  # rt_sigsuspend with an empty mask
    assert s.deliverable_under_deferred()
    assert s.fork().delivery_mask is None
    assert s.take_delivery_mask(130) == 0
    assert s.take_delivery_mask(130) is None
    s.defer_mask(271, usr1 | (1 << (9 - 1)))  # ppoll; SIGKILL masked out
    assert not s.deliverable_under_deferred()
    assert s.take_delivery_mask(0) is None  # another call: the stale mask is dropped
    assert s.delivery_mask is None
