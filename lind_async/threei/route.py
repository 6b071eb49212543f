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

For a Python grate, steps 1-3 of the common case (the handler gives an ``int`` and leaves no
effect) are one native call when the glue is wired (``_run``, ``native/grate_python.c``); any
other outcome comes back to :func:`resume`, which finishes it as the Python path does. The
native ``Call.forward`` (same file) makes that call itself for an unchanged forward to a
Python grate below, without this module's frame.

This module is the only writer of the in-flight counts (:class:`~lind_async.threei.authority.
InFlight`), with the native ``_run`` it wires: a lane passing a call on (``grates/lane.py``)
holds its count through :func:`pass_through`. The count is a plain dict updated inline: it is
on every hop.
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
    from lind_async.threei.python_grates import Grate
    from lind_async.threei.tables import Route

Key = tuple[int, int]
_Coroutine = types.CoroutineType
_new = object.__new__
# The native Python grate hop (``native/grate_python.c``, wired by ``threei/native.py``):
# ``_run(counts, key, handler, grate, mv, origin, number, args, owners)`` counts the call in
# flight, makes its Call (CALL_SLOTS set, in that order: the six given, then effect None and
# _key the key), runs the handler (a coroutine stepped once) and, when that gave an int and left
# nothing to apply, releases the count and returns the int; anything else comes back as
# ``(call, handler's result, stepped, exception or None)`` for :func:`resume`, the count held.
# None: the Python path (in :func:`hop`).
CALL_SLOTS = ("grate", "mv", "origin", "number", "args", "owners", "effect", "_key")
_run: Callable[..., Any] | None = None


def use_python_hop(run: Callable[..., Any] | None) -> None:
    global _run
    _run = run


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
    if python_grate is not None:  # the grate's bound handler, called here
        run = _run
        if run is not None:  # (the native Call.forward does the same for a grate below)
            got = run(counts, key, python_grate._bound[number], python_grate, mv, origin, number,
                      args, owners)
            if got.__class__ is int:
                return got
            return resume(python_grate, counts, key, origin, got)
        # without the native glue: the same in Python
        counts[key] = counts.get(key, 0) + 1
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
            handler = result = python_grate._bound[number](call)
            kind = result.__class__
            if kind is _Coroutine:
                try:
                    first = result.send(None)
                except StopIteration as done:
                    result = done.value
                    if result.__class__ is not int:
                        result = (0, result)
                else:
                    result = (1, first)
            elif kind is Forward and result._value.__class__ is int:
                result = result._value
            if result.__class__ is int and call.effect is None and origin.deferred is None:
                call._key = None
                left = counts[key] - 1
                if left:
                    counts[key] = left
                else:
                    del counts[key]
                return result
        except BaseException as exc:
            return release(call, counts, key, origin, raised(python_grate, call, counts, key, exc))
        return settle(python_grate, call, handler, result, counts, key, origin)
    grate = mv.cages.get(grate_id)
    if grate is None or grate.status is not None:
        return -EIO  # a dead grate
    counts[key] = counts.get(key, 0) + 1
    try:
        outcome: Any = wasm_grates.invoke(mv, grate, route.handler, origin.cage_id, args, owners)
    except BaseException:
        _leave(counts, key)
        raise
    if outcome.__class__ is not int:
        return _until_done(origin, counts, key, outcome, not nested)
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
    effect = origin.deferred
    if not nested and effect is not None:
        origin.deferred = None
        raise effect  # on origin's own fiber: its sync syscall import re-raises it there
    return outcome


def resume(
    python_grate: Grate, counts: dict[Key, int], key: Key, origin: Cage, got: tuple[Any, ...]
) -> SysResult:
    """Finish a hop ``_run`` handed back: ``got`` is ``(call, handler's result, stepped, None)``
    or ``(call, None, None, exception)``; the call's count is still held."""
    call, handler, result, exc = got
    if exc is None:
        return settle(python_grate, call, handler, result, counts, key, origin)
    try:
        raise exc
    except BaseException as err:
        result = raised(python_grate, call, counts, key, err)
    finally:
        del exc, got
    return release(call, counts, key, origin, result)


def settle(
    python_grate: Grate,
    call: Call,
    handler: Any,
    result: Any,
    counts: dict[Key, int],
    key: Key,
    origin: Cage,
) -> SysResult:
    """The rest of a Python grate's hop whose handler did not simply give an int (or left an
    effect): ``handler`` is what the handler returned, ``result`` what stepping it gave (the
    native step's ``(1, yielded)``/``(0, returned)`` for a coroutine)."""
    try:
        if result.__class__ is not int:
            if handler.__class__ is _Coroutine:
                if result[0]:  # it yielded: it waits
                    finish = python_grate._finish(call, handler, result[1])
                    return _until_done(origin, counts, key, finish, True, call)
                result = as_result(result[1])
            else:  # an awaitable (a Forward still running), or not a result at all
                steps = handler.__await__()
                try:
                    first = steps.send(None)
                except StopIteration as done:
                    result = as_result(done.value)
                else:
                    finish = python_grate._finish(call, steps, first)
                    return _until_done(origin, counts, key, finish, True, call)
    except BaseException as exc:
        result = raised(python_grate, call, counts, key, exc)
    return release(call, counts, key, origin, result)


def raised(python_grate: Grate, call: Call, counts: dict[Key, int], key: Key, exc: BaseException
           ) -> int:
    """A Python grate's handler raised ``exc`` (called in its ``except`` block): the call's
    result, or ``exc`` again (with the count released) when it is none of the grate's."""
    if isinstance(exc, GuestError):
        return to_negative_errno(exc)
    if isinstance(exc, EFFECTS):
        call.effect = exc
        return 0
    if isinstance(exc, Exception):
        return python_grate._failed(call)
    call._key = None
    _leave(counts, key)
    raise exc


def release(call: Call, counts: dict[Key, int], key: Key, origin: Cage, result: int) -> SysResult:
    """A Python grate's handler is done with ``result``: the count released, an effect applied."""
    call._key = None
    _leave(counts, key)
    if call.effect is None and origin.deferred is None:
        return result
    return settle_now(call, result)


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
