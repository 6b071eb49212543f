"""One grate hop: how a call that a route sends to a grate runs, and the in-flight count around it.

Theory of operation
-------------------
Every call a route sends into a grate goes through :func:`call_grate` (or :func:`hop`, its hot
path when every argument is the originating cage's own): a cage's own call
(``Cage.syscall``), a call a grate forwards down its table (``calls.threei_call``), a fork a grate
interposes on (``runtime/fork.py``). The hop

1. counts the call *in flight* through the grate for the originating cage — and for every other
   argument owner (a grate above that passed a pointer into its own memory) — which is what gives
   the grate authority over them (``threei/authority.py``, rule 1);
2. runs the grate's handler: a Python grate's bound method, called here (a coroutine handler is
   stepped once, eagerly; ``python_grates.py`` keeps the rest of the Python grate API); a wasm
   grate's handler on one of its workers (``wasm_grates.invoke``), polled inline once;
3. settles: a handler that finished gives its ``int`` now (no coroutine, no task) and the count
   is released at once; one that must wait is handed back as an awaitable that releases the count
   when it ends;
4. raises a process-level effect (``exit``, ``execve``) a grate applied to the originating cage
   into that cage's own fiber — only for the call the cage itself made, never into a grate that
   forwarded it (``nested``).

This module is the only writer of the in-flight counts (:class:`~lind_async.threei.authority.
InFlight`): a lane passing a call on (``grates/lane.py``) holds its count through
:func:`pass_through`. The count is a plain dict updated inline: it is on every hop.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lind_async.abi.errno import EIO, GuestError, to_negative_errno
from lind_async.threei import wasm_grates
from lind_async.threei.grate_calls import EFFECTS, Call, Forward, as_result, settle_now

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.cage import Cage
    from lind_async.runtime.world import World
    from lind_async.threei.tables import Route

Key = tuple[int, int]
_Coroutine = types.CoroutineType
_new = object.__new__
# The native coroutine step (``native/grate_entry.c``, wired by ``threei/native.py``): the int a
# coroutine returned at once, else (1, what it yielded) or (0, what it returned). None: Python's.
_step: Callable[[Any], Any] | None = None


def use_step(step: Callable[[Any], Any]) -> None:
    """Step coroutine handlers once with ``step`` (see ``_step``)."""
    global _step
    _step = step


# The native Call maker (wired by ``threei/native.py``): ``_make_call(*values)`` is a Call with
# the slots CALL_SLOTS set to the values, in that order. None: made here, slot by slot.
CALL_SLOTS = ("grate", "mv", "origin", "number", "args", "owners", "effect", "_key")
_make_call: Callable[..., Call] | None = None


def use_call_maker(make: Callable[..., Call] | None) -> None:
    global _make_call
    _make_call = make


def call_grate(
    mv: World,
    origin: Cage,
    route: Route,
    number: int,
    args: tuple[int, ...],
    owners: tuple[int, ...] | None = None,
    *,
    nested: bool = False,
) -> SysResult:
    """Run the grate handler ``route`` names for a call ``origin`` made (or that a grate forwarded
    on its behalf: ``nested``). Argument owners default to ``origin`` itself."""
    own = origin.own_owners
    if owners is None or owners == own:  # the hot path: nothing else to count
        return hop(mv, origin, route, number, args, own, nested)
    grate_id = route.handler_cage
    extra = set(owners)
    extra.discard(0)
    extra.discard(origin.cage_id)
    counts = mv.in_flight.counts
    for owner in extra:
        _enter(counts, (grate_id, owner))
    try:
        result = hop(mv, origin, route, number, args, owners, nested)
    except BaseException:
        _leave_all(counts, grate_id, extra)
        raise
    if result.__class__ is int or not extra:
        _leave_all(counts, grate_id, extra)
        return result
    return _leave_all_after(result, counts, grate_id, extra)  # type: ignore[arg-type]


def hop(
    mv: World,
    origin: Cage,
    route: Route,
    number: int,
    args: tuple[int, ...],
    owners: tuple[int, ...],
    nested: bool,
) -> SysResult:
    """:func:`call_grate` once the other argument owners are counted (or there are none)."""
    grate_id = route.handler_cage
    counts = mv.in_flight.counts
    key = (grate_id, origin.cage_id)
    python_grate = mv.python_grates.get(grate_id)
    if python_grate is not None:  # the grate's bound handler, called here: one frame per hop
        counts[key] = counts.get(key, 0) + 1
        # Call(python_grate, mv, origin, number, args, owners, key), its slots set here: a class
        # call runs __init__ in a frame of its own (~60 ns of every Python hop).
        make = _make_call
        if make is not None:
            call = make(python_grate, mv, origin, number, args, owners, None, key)
        else:
            call = _new(Call)
            call.grate = python_grate
            call.mv = mv
            call.origin = origin
            call.number = number
            call.args = args
            call.owners = owners
            call.effect = None
            call._key = key
        try:
            result: Any = python_grate._bound[number](call)
            kind = result.__class__
            if kind is int:
                pass
            elif kind is _Coroutine:  # stepped once, eagerly: most finish without waiting
                step = _step
                if step is not None:
                    first = step(result)
                    if first.__class__ is int:
                        result = first
                    elif first[0]:  # it yielded: it waits
                        finish = python_grate._finish(call, result, first[1])
                        return _until_done(origin, counts, key, finish, True, call)
                    else:
                        result = as_result(first[1])
                else:
                    try:
                        first = result.send(None)
                    except StopIteration as done:
                        result = done.value
                        if result.__class__ is not int:
                            result = as_result(result)
                    else:
                        finish = python_grate._finish(call, result, first)
                        return _until_done(origin, counts, key, finish, True, call)
            elif kind is Forward and result._value.__class__ is int:
                result = result._value
            else:
                steps = result.__await__()
                try:
                    first = steps.send(None)
                except StopIteration as done:
                    result = as_result(done.value)
                else:
                    finish = python_grate._finish(call, steps, first)
                    return _until_done(origin, counts, key, finish, True, call)
        except GuestError as err:
            result = to_negative_errno(err)
        except EFFECTS as raised:
            call.effect = raised
            result = 0
        except Exception:
            result = python_grate._failed(call)
        except BaseException:
            call._key = None
            _leave(counts, key)
            raise
        call._key = None  # (the call is no longer in flight: a later forward is checked)
        left = counts[key] - 1  # (_leave, inline: this is every Python hop)
        if left:
            counts[key] = left
        else:
            del counts[key]
        if call.effect is None and origin.deferred is None:
            return result  # type: ignore[no-any-return]
        return settle_now(call, result)
    grate = mv.cages.get(grate_id)
    if grate is None or grate.status is not None:
        return -EIO  # a dead grate
    counts[key] = counts.get(key, 0) + 1
    try:
        result = wasm_grates.invoke(mv, grate, route.handler, origin.cage_id, args, owners)
    except BaseException:
        _leave(counts, key)
        raise
    if result.__class__ is not int:
        return _until_done(origin, counts, key, result, not nested)
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
    effect = origin.deferred
    if not nested and effect is not None:
        origin.deferred = None
        raise effect  # on origin's own fiber: its sync syscall import re-raises it there
    return result


async def _until_done(
    origin: Cage,
    counts: dict[Key, int],
    key: Key,
    pending: Awaitable[Any],
    raise_effects: bool,
    call: Call | None = None,
) -> int:
    try:
        result = await pending
    finally:
        if call is not None:
            call._key = None
        _leave(counts, key)
    effect = origin.deferred
    if raise_effects and effect is not None:
        origin.deferred = None
        raise effect
    return int(result)


def pass_through(mv: World, via: int, origin: int) -> Key:
    """Count a call of ``origin`` in flight through ``via`` (a lane's 3i id) while it is passed
    on; :func:`passed` ends the count (a plain pair, not a context manager: it is on every call
    through a lane)."""
    counts, key = mv.in_flight.counts, (via, origin)
    counts[key] = counts.get(key, 0) + 1
    return key


def passed(mv: World, key: Key) -> None:
    _leave(mv.in_flight.counts, key)


def _enter(counts: dict[Key, int], key: Key) -> None:
    counts[key] = counts.get(key, 0) + 1


def _leave(counts: dict[Key, int], key: Key) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


def _leave_all(counts: dict[Key, int], grate_id: int, owners: set[int]) -> None:
    for owner in owners:
        _leave(counts, (grate_id, owner))


async def _leave_all_after(
    pending: Awaitable[int], counts: dict[Key, int], grate_id: int, owners: set[int]
) -> int:
    try:
        return await pending
    finally:
        _leave_all(counts, grate_id, owners)
