"""RawPOSIX signal family: dispositions, masks, sending, waiting for signals, alarms and itimers."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, EPERM, ESRCH, GuestError
from lind_async.core.signals import SigAction
from lind_async.rawposix import threads
from lind_async.rawposix.args import i32, pointer, size
from lind_async.rawposix.structs import K_SIGACTION, SIGSET
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_SIGSET_SIZE = SIGSET.size


def sys_rt_sigaction(
    cage: CageView, signo: int, act: int, oact: int, sigsetsize: int, *_: int,
) -> int:
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


def sys_rt_sigprocmask(
    cage: CageView, how: int, nset: int, oset: int, sigsetsize: int, *_: int,
) -> int:
    if size(sigsetsize) != _SIGSET_SIZE:
        raise GuestError(EINVAL)
    state = threads.mask_state(cage)  # the calling thread's mask
    old = state.blocked
    if pointer(nset):
        (value,) = cage.mem.unpack(SIGSET, pointer(nset))
        state.change_mask(i32(how), value)
    if pointer(oset):
        cage.mem.pack(SIGSET, pointer(oset), old)
    return 0


# -- sending ----------
def sys_kill(cage: CageView, pid: int, sig: int, *_: int) -> int:
    return _send(cage, i32(pid), i32(sig), nr.SYS_kill)


def _send(cage: CageView, target: int, signo: int, callnum: int) -> int:
    """Who may be signalled is ``threei/authority.py``'s rule 5 (POSIX's credential rule within the
    world, and never a grate that serves the sender unless it let the call through)."""
    if not 0 <= signo <= 64:
        raise GuestError(EINVAL)
    mv = cage.world
    procs = mv.procs
    me, authority = cage.cage_id, mv.authority

    def may(sender: int, pid_: int, call: int) -> bool:
        return authority.may_signal(sender, pid_, call, signo)

    if target > 0:
        targets = [target] if target in procs else []
        if not targets:
            raise GuestError(ESRCH)
    elif target == 0:
        targets = procs.group(procs.get(cage.cage_id).pgid)
    elif target == -1:
        targets = [p for p in procs.live() if p != cage.cage_id and may(me, p, callnum)]
    else:
        targets = procs.group(-target)
    allowed = [t for t in targets if may(me, t, callnum)]
    if not targets:
        raise GuestError(ESRCH)
    if not allowed:
        raise GuestError(EPERM)
    if signo:
        for pid_ in allowed:
            victim = mv.cages.get(pid_)
            if victim is not None:
                victim.post_signal(signo, cage.cage_id)
    return 0


def sys_tgkill(cage: CageView, tgid: int, tid: int, sig: int, *_: int) -> int:
    return _send(cage, i32(tid if i32(tgid) <= 0 else tgid), i32(sig), nr.SYS_tgkill)


def sys_tkill(cage: CageView, tid: int, sig: int, *_: int) -> int:
    target = i32(tid)
    if cage.threads.by_tid(target) is not None:
        # One of the caller's own secondary threads (musl's raise and pthread_kill, so abort in a
        # thread): delivered process-directed, like every signal here, instead of ESRCH.
        target = cage.cage_id
    return _send(cage, target, i32(sig), nr.SYS_tkill)


# -- waiting for signals ----------
def sys_rt_sigpending(cage: CageView, set_addr: int, sigsetsize: int, *_: int) -> int:
    if size(sigsetsize) > _SIGSET_SIZE:
        raise GuestError(EINVAL)
    state = cage.signals
    cage.mem.pack(SIGSET, pointer(set_addr), state.pending & state.blocked)
    return 0


async def _until_signal(cage: CageView) -> int:
    forever: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    await cage.block_on(forever)  # only a signal ends it (EINTR)
    raise AssertionError("unreachable")


def sys_pause(cage: CageView, *_: int) -> Awaitable[int]:
    return _until_signal(cage)


def sys_rt_sigsuspend(cage: CageView, mask: int, sigsetsize: int, *_: int) -> Awaitable[int]:
    if size(sigsetsize) != _SIGSET_SIZE:
        raise GuestError(EINVAL)
    (temporary,) = cage.mem.unpack(SIGSET, pointer(mask))
    return _suspend(cage, temporary)


async def _suspend(cage: CageView, temporary: int) -> int:
    state = cage.signals
    saved = state.blocked
    state.set_mask(temporary)
    try:
        await _until_signal(cage)
    except GuestError:
        # Delivered at the call's return under the temporary mask; the handler returns to the
        # caller's (POSIX sigsuspend; runtime/signals.apply_deferred_mask).
        state.defer_mask(nr.SYS_rt_sigsuspend, temporary)
        raise
    finally:
        state.set_mask(saved)
    return 0


def sys_sigaltstack(cage: CageView, ss: int, old_ss: int, *_: int) -> int:
    # Handlers always run on the cage's own signal stack (runtime/signals.py); the call is
    # accepted and reports "no alternate stack" so programs that set one up keep working.
    if pointer(old_ss):
        cage.mem.pack(_STACK_T, pointer(old_ss), 0, _SS_DISABLE, 0)
    if pointer(ss):
        cage.mem.unpack(_STACK_T, pointer(ss))
    return 0


_STACK_T = struct.Struct("<IiI")  # wasm32 stack_t { void *ss_sp; int ss_flags; size_t ss_size; }
_SS_DISABLE = 2


# -- timers ----------
SIGALRM = 14
ITIMER_REAL = 0
_ITIMERVAL = struct.Struct("<qqqq")  # it_interval {sec, usec}, it_value {sec, usec}
_US = 1_000_000


def _remaining_us(cage: CageView) -> tuple[int, int]:
    timer = cage.alarm
    if timer is None:
        return 0, 0
    handle, interval_us = timer
    left = max(0.0, handle.when() - asyncio.get_running_loop().time())
    return round(left * _US), interval_us


def _arm(cage: CageView, value_us: int, interval_us: int) -> None:
    if cage.alarm is not None:
        cage.alarm[0].cancel()
        cage.alarm = None
    if value_us <= 0:
        return
    loop = asyncio.get_running_loop()

    def fire() -> None:
        cage.alarm = None
        if interval_us:
            _arm(cage, interval_us, interval_us)
        cage.post_signal(SIGALRM)

    cage.alarm = (loop.call_later(value_us / _US, fire), interval_us)


def sys_alarm(cage: CageView, seconds: int, *_: int) -> int:
    left_us, _interval = _remaining_us(cage)
    _arm(cage, (seconds & 0xFFFFFFFF) * _US, 0)
    return (left_us + _US - 1) // _US if left_us else 0


def sys_setitimer(cage: CageView, which: int, new: int, old: int, *_: int) -> int:
    if i32(which) != ITIMER_REAL:
        raise GuestError(EINVAL)
    if pointer(old):
        sys_getitimer(cage, which, old)
    if pointer(new):
        isec, iusec, vsec, vusec = cage.mem.unpack(_ITIMERVAL, pointer(new))
        if min(isec, iusec, vsec, vusec) < 0 or iusec >= _US or vusec >= _US:
            raise GuestError(EINVAL)
        _arm(cage, vsec * _US + vusec, isec * _US + iusec)
    return 0


def sys_getitimer(cage: CageView, which: int, cur: int, *_: int) -> int:
    if i32(which) != ITIMER_REAL:
        raise GuestError(EINVAL)
    left, interval = _remaining_us(cage)
    cage.mem.pack(
        _ITIMERVAL, pointer(cur), interval // _US, interval % _US, left // _US, left % _US
    )
    return 0


ROWS: list[Row] = [
    (nr.SYS_rt_sigaction, sys_rt_sigaction, Support.FULL, ""),
    (nr.SYS_rt_sigprocmask, sys_rt_sigprocmask, Support.FULL, ""),
    (nr.SYS_rt_sigpending, sys_rt_sigpending, Support.FULL, ""),
    (nr.SYS_rt_sigsuspend, sys_rt_sigsuspend, Support.FULL, ""),
    (nr.SYS_pause, sys_pause, Support.FULL, ""),
    (nr.SYS_kill, sys_kill, Support.FULL, "permission per cage lineage"),
    (nr.SYS_tkill, sys_tkill, Support.PARTIAL, "process-directed"),
    (nr.SYS_tgkill, sys_tgkill, Support.PARTIAL, "process-directed"),
    (nr.SYS_alarm, sys_alarm, Support.FULL, ""),
    (nr.SYS_setitimer, sys_setitimer, Support.PARTIAL, "ITIMER_REAL"),
    (nr.SYS_getitimer, sys_getitimer, Support.PARTIAL, "ITIMER_REAL"),
    (nr.SYS_sigaltstack, sys_sigaltstack, Support.PARTIAL, "handlers use the cage's signal stack"),
]
