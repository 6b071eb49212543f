"""``lind.threei_call``: the guest import through which a wasm grate forwards a call.

Signature (lind-musl ``src/lind/threei.c`` imports it so)::

    threei_call(nr: i32, target: i64, a1, a1cage, …, a6, a6cage: i64) -> i64

It follows ``lind.syscall``'s protocol (``runtime/syscall_entry.py``): a *sync* import that returns
the result when the call completes at once, and otherwise parks the awaitable on the calling
instance and answers ``WOULD_WAIT``; lind-musl then collects it with the async
``lind.syscall_wait``. The caller is the cage the instance belongs to (a grate's main instance or
one of its workers), never a guest-supplied id; the routing and authority rules are
:func:`lind_async.threei.calls.threei_call`'s. A refused or failed call is ``-errno``, as
RawPOSIX's dispatcher reports it; a process-level effect on the caller itself (it forwarded its own
``exit``) propagates like the same system call would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from lind_async.abi.errno import GuestError, to_negative_errno
from lind_async.abi.guest import WOULD_WAIT
from lind_async.threei import calls as threei_calls
from lind_async.wasm import fiber
from lind_async.wasm.eager import first_step

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage
    from lind_async.wasm.instance import LindInstance

THREEI_CALL_PARAMS = ("i32", *("i64",) * 13)


def threei_call_now(instance: LindInstance, args: tuple[int, ...]) -> int:
    cage: Cage = instance.data
    try:  # the owners go as they came (signed): threei_call masks every use of them
        result = threei_calls.threei_call(
            cage.microvisor, cage.cage_id, args[0], args[1], args[2::2], args[3::2]
        )
    except (GuestError, OSError) as exc:
        return to_negative_errno(exc)
    if isinstance(result, int):
        if cage.kill_status is None:
            return result
        # The call killed the caller itself (SIGKILL to its own pid or group): the guest must
        # not run on, so it waits, and the cancellation Cage.terminate sent lands there.
        instance.park(_killed(result))
        return WOULD_WAIT
    instance.park(_finish(first_step(result)))  # its first step now (wasm/eager.py)
    return WOULD_WAIT


_NAME = "lind.threei_call"


def _no_keeper(trap: int) -> None:
    raise RuntimeError("lind.threei_call's native trampoline is not in use")


_keep_trap: Callable[[int], None] = _no_keeper


def use_trap_keeper(keep: Callable[[int], None]) -> None:
    """How :func:`threei_entry` hands a trap to the native trampoline (``threei/native.py``)."""
    global _keep_trap
    _keep_trap = keep


def threei_entry(
    nr: int, target: int, a1: int, c1: int, a2: int, c2: int, a3: int, c3: int,
    a4: int, c4: int, a5: int, c5: int, a6: int, c6: int,
) -> int:
    """``lind.threei_call`` as the native trampoline calls it (``native/grate_entry.c``): the
    fourteen arguments as ints; never raises (a failure is a trap kept for the trampoline,
    with the exception recorded on the live call, as the shared trampoline does)."""
    try:
        instance: LindInstance = fiber._current.instance  # type: ignore[union-attr]
        return threei_call_now(instance, (nr, target, a1, c1, a2, c2, a3, c3, a4, c4, a5, c5,
                                          a6, c6))
    except BaseException as exc:
        _keep_trap(fiber.fail(exc, _NAME))
        return 0


async def _killed(result: int) -> int:
    await asyncio.sleep(0)
    return result


async def _finish(pending: Awaitable[int]) -> int:
    try:
        return int(await pending)
    except (GuestError, OSError) as exc:
        return to_negative_errno(exc)
