"""RawPOSIX signal family (this issue's part): dispositions and mask are recorded, not delivered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lind_async.abi.errno import EINVAL, GuestError
from lind_async.core.signals import SigAction
from lind_async.rawposix.args import i32, pointer, size
from lind_async.rawposix.structs import K_SIGACTION, SIGSET

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage

_SIGSET_SIZE = SIGSET.size


def sys_rt_sigaction(cage: Cage, signo: int, act: int, oact: int, sigsetsize: int, *_: int) -> int:
    if size(sigsetsize) != _SIGSET_SIZE:
        raise GuestError(EINVAL)
    sig = i32(signo)
    state = cage.signals
    old = state.action(sig)
    if pointer(act):
        handler, flags, mask, _unused = cage.mem.unpack(K_SIGACTION, pointer(act))
        state.set_action(sig, SigAction(handler, flags, mask))
    if pointer(oact):
        cage.mem.pack(K_SIGACTION, pointer(oact), old.handler, old.flags, old.mask, 0)
    return 0


def sys_rt_sigprocmask(cage: Cage, how: int, nset: int, oset: int, sigsetsize: int, *_: int) -> int:
    if size(sigsetsize) != _SIGSET_SIZE:
        raise GuestError(EINVAL)
    state = cage.signals
    old = state.blocked
    if pointer(nset):
        (value,) = cage.mem.unpack(SIGSET, pointer(nset))
        state.change_mask(i32(how), value)
    if pointer(oset):
        cage.mem.pack(SIGSET, pointer(oset), old)
    return 0
