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
from typing import TYPE_CHECKING, Any, cast

from lind_async.abi.errno import GuestError, to_negative_errno
from lind_async.abi.guest import WOULD_WAIT
from lind_async.abi.syscalls import SYS_register_handler
from lind_async.threei import calls as threei_calls
from lind_async.threei import route as route_module
from lind_async.threei import wasm_grates
from lind_async.threei.authority import acts_for
from lind_async.wasm import fiber
from lind_async.wasm.eager import first_step

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.cage import Cage
    from lind_async.runtime.world import World
    from lind_async.wasm.instance import LindInstance
    from lind_async.wasm.prepared_call import PreparedCall

Key = tuple[int, int]

THREEI_CALL_PARAMS = ("i32", *("i64",) * 13)


def threei_call_now(instance: LindInstance, args: tuple[int, ...]) -> int:
    return _call_now(instance, args[0], args[1], args[2::2], args[3::2])


def _call_now(
    instance: LindInstance, nr: int, target: int, args: tuple[int, ...],
    owners: tuple[int, ...],
) -> int:
    cage: Cage = instance.data
    try:  # the owners go as they came (signed): threei_call masks every use of them
        result = threei_calls.threei_call(cage.microvisor, cage.cage_id, nr, target, args, owners)
    except (GuestError, OSError) as exc:
        return to_negative_errno(exc)
    return _answer(instance, cage, result)


def _answer(instance: LindInstance, cage: Cage, result: SysResult) -> int:
    """What the import returns for ``result`` (an int, or an awaitable: parked)."""
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


def threei_entry(nr: int, target: int, args: tuple[int, ...], owners: tuple[int, ...]) -> int:
    """``lind.threei_call`` as the native trampoline calls it (``native/grate_entry.c``): the
    number, the target, and tuples of the six arguments and their six owners; never raises (a
    failure is a trap kept for the trampoline, with the exception recorded on the live call, as
    the shared trampoline does).

    The hot path, in this one frame: a grate forwarding a call with every argument the
    target's, on behalf of a cage it serves (the call is in flight through it), down a route
    to a C grate with an idle worker — ``threei_call``, the hop and ``wasm_grates.invoke``
    written out. It decides nothing of its own: whatever it does not recognise (another
    owner, a target that is not in flight, a route to RawPOSIX or a Python grate, no idle
    worker) goes the general way, :func:`threei_call_now`, before anything has happened.

    Once such a forward has passed every check, it is *linked* for the native C hop
    (``_link``): the caller's later forwards of the same number for the same target are then
    served in C while what was checked here still holds (``native/grate_entry.c``, "the C
    hop"), and only what the C hop declines comes here."""
    try:
        instance: LindInstance = fiber._current.instance  # type: ignore[union-attr]
        cage: Cage = instance.data
        mv = cage.microvisor
        origin = mv.cages.get(target)
        routes = cage._routes  # (its live table: the same dict as mv.threei's, once made)
        if (
            origin is not None
            and origin.status is None
            and owners == origin.own_owners
            and routes is not None
            and cage.status is None
        ):
            route = routes.get(nr)
            counts = mv.in_flight.counts
            if (
                route is not None
                and acts_for(counts, cage.cage_id, target)  # rule 1's cheap cases
                and route.handler_cage not in mv.python_grates
            ):
                grate = mv.cages.get(route.handler_cage)
                pool = (
                    None
                    if grate is None
                    or grate.status is not None
                    or grate.lifecycle.kill_status is not None  # (dying: invoke says EIO)
                    else grate.grate_workers
                )
                handler = route.handler
                if (
                    pool is not None
                    and pool.idle
                    and pool.main is grate.instance  # type: ignore[union-attr]
                    and pool.serves
                    and (pool.slots is None or handler in pool.slots)
                ):  # the hop (route.hop, nested) into wasm_grates.invoke, with an idle worker
                    hop_grate = cast("Cage", grate)
                    if _current_entry is not None:
                        _link(cage, mv, origin, counts, nr, target, hop_grate, pool, handler)
                    key = (route.handler_cage, target)
                    counts[key] = counts.get(key, 0) + 1
                    idle = pool.idle
                    worker = idle.pop()
                    try:
                        result = worker.entry.call_pairs(handler, target, args, owners)
                    except BaseException as exc:
                        result = _hop_failed(mv, hop_grate, pool, worker, counts, key, exc)
                    else:
                        if result.__class__ is not int:  # it waits
                            return _hop_waits(
                                instance, origin, mv, hop_grate, pool, worker, counts, key,
                                result,
                            )
                        idle.append(worker)
                        if pool.waiting:
                            pool.freed.set()
                    return _hop_left(instance, cage, counts, key, result)
            elif (
                route is None
                and nr != SYS_register_handler
                and acts_for(counts, cage.cage_id, target)  # rule 1's cheap cases
            ):  # a forward to RawPOSIX (threei_call's own, without its lookups)
                if _current_entry is not None:
                    _link(cage, mv, origin, counts, nr, target)
                try:
                    done = threei_calls.rawposix_as(cage.cage_id, origin, nr, args)
                except (GuestError, OSError) as exc:
                    return to_negative_errno(exc)
                return _answer(instance, cage, done)
        if _current_entry is not None:  # the general way: a link made before a change goes
            entry = _current_entry()
            if entry is not None:
                entry.unlink_before(mv.threei.generation)
        return _call_now(instance, nr, target, args, owners)
    except BaseException as exc:
        _keep_trap(fiber.fail(exc, _NAME))
        return 0


def _hop_failed(
    mv: World, grate: Cage, pool: Any, worker: Any, counts: dict[Key, int], key: Key,
    exc: BaseException,
) -> int:
    """A handler's call that failed (a trap, an error): the worker retired, the grate's fate."""
    wasm_grates._retire(pool, worker)
    try:
        return wasm_grates._failed(mv, grate, exc)
    except BaseException:
        route_module._leave(counts, key)
        raise


def _hop_waits(
    instance: LindInstance, origin: Cage, mv: World, grate: Cage, pool: Any, worker: Any,
    counts: dict[Key, int], key: Key, pending: Any,
) -> int:
    """A handler that waits: the rest as invoke, the hop and threei_call_now hand it on."""
    rest = wasm_grates._complete(pool, worker, pending)
    done = route_module._until_done(
        origin, counts, key, wasm_grates._shielded(mv, grate, rest), False
    )
    instance.park(_finish(first_step(done)))
    return WOULD_WAIT


def _hop_left(
    instance: LindInstance, cage: Cage, counts: dict[Key, int], key: Key, result: int
) -> int:
    """The hop's count released; the result, unless the caller was killed meanwhile."""
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
    if cage.lifecycle.kill_status is None:
        return result
    instance.park(_killed(result))
    return WOULD_WAIT


# -- the native C hop (native/grate_entry.c, "the C hop") ----------
# ``current_entry()``: the PreparedCall whose store's lind.threei_call is being served, when a
# hop can be linked to it; None while the C hop is not wired.
_current_entry: Callable[[], PreparedCall | None] | None = None


def use_c_hop(current_entry: Callable[[], PreparedCall | None]) -> None:
    global _current_entry
    _current_entry = current_entry


def _link(
    cage: Cage, mv: World, origin: Cage, counts: dict[Key, int], nr: int, target: int,
    grate: Cage | None = None, pool: Any = None, handler: int = 0,
) -> None:
    """Link the C hop to the caller's prepared call for its next calls like this one (checked
    in full just now): the objects it uses, in the order of grate_entry.c's ``LINK_*``. With
    no ``grate``, a forward to RawPOSIX: the C hop hands it to :func:`_c_rawposix`."""
    entry = _current_entry() if _current_entry is not None else None
    if entry is None:
        return
    threei = mv.threei
    generation = threei.generation
    if entry.linked(nr, target, generation):
        return
    if grate is None:  # (no key, grate, pool: RawPOSIX runs it)
        hop: tuple[Any, ...] = (None, None, None, None, None, None, _c_rawposix)
    else:
        hop = ((grate.cage_id, target), grate.lifecycle, grate, pool.main, pool, pool.idle, None)
    key, grate_life, next_grate, main, next_pool, idle, rawposix = hop
    link = (
        threei, counts, key, acts_for, cage.cage_id, target, cage.lifecycle, origin.lifecycle,
        grate_life, next_grate, main, next_pool, idle, origin, rawposix,
    )
    entry.link(link, nr, target, generation, handler)


def _c_rawposix(caller: int, origin: Cage, nr: int, args: tuple[int, ...]) -> int:
    """A forward to RawPOSIX the C hop found linked (checked as ``threei_entry`` checks it):
    RawPOSIX runs it on ``origin``, as ``threei_call`` does. Never raises."""
    try:
        instance: LindInstance = fiber._current.instance  # type: ignore[union-attr]
        try:
            done = threei_calls.rawposix_as(caller, origin, nr, args)
        except (GuestError, OSError) as exc:
            return to_negative_errno(exc)
        return _answer(instance, instance.data, done)
    except BaseException as exc:
        _keep_trap(fiber.fail(exc, _NAME))
        return 0


def _c_hop_tail(link: tuple[Any, ...], worker: Any, out: int) -> int:
    """A C hop whose handler did not simply finish (``out``: 0 or 1, it ended with a failure;
    else its pending future): finished as the Python path finishes it. Never raises."""
    try:
        instance: LindInstance = fiber._current.instance  # type: ignore[union-attr]
        cage: Cage = instance.data
        mv = cage.microvisor
        counts, key, grate, pool, idle, origin = (
            link[1], link[2], link[9], link[11], link[12], link[13]
        )
        try:
            result = worker.entry._settle(out)
        except BaseException as exc:
            result = _hop_failed(mv, grate, pool, worker, counts, key, exc)
        else:
            if result.__class__ is not int:
                return _hop_waits(instance, origin, mv, grate, pool, worker, counts, key, result)
            idle.append(worker)
            if pool.waiting:
                pool.freed.set()
        return _hop_left(instance, cage, counts, key, result)
    except BaseException as exc:
        _keep_trap(fiber.fail(exc, _NAME))
        return 0


def _c_hop_killed(result: int) -> int:
    """A C hop that finished after its caller was killed: the caller waits (see _killed)."""
    try:
        instance: LindInstance = fiber._current.instance  # type: ignore[union-attr]
        instance.park(_killed(result))
        return WOULD_WAIT
    except BaseException as exc:
        _keep_trap(fiber.fail(exc, _NAME))
        return 0


def _c_hop_wake(pool: Any) -> None:
    pool.freed.set()


async def _killed(result: int) -> int:
    await asyncio.sleep(0)
    return result


async def _finish(pending: Awaitable[int]) -> int:
    try:
        return int(await pending)
    except (GuestError, OSError) as exc:
        return to_negative_errno(exc)
