"""3i calls: grates acting on behalf of other cages, and calls routed into grates.

Theory of operation
-------------------
*Routing into a grate.* When cage C makes call ``n`` and C's table routes ``n`` to a grate G
(the hop, ``threei/route.py``), G's handler runs with C as the *originating cage* and every
argument tagged with its owner: ``(a1, C), … (a6, C)``. While it runs, the call is *in flight*
through G, which gives G authority over C (see below). A Python grate's handler is called
directly; a wasm grate's handler runs on a worker instance of G (``threei/wasm_grates.py``).

*Forwarding* (``threei_call(n, target, a1, a1c, …)``, :func:`threei_call`): the caller looks ``n``
up in **its own** table — so a grate forwards to the grate below it, and the bottom grate to
RawPOSIX. On the way to RawPOSIX the call is executed *as the target cage*: its fd table, cwd,
identity and vmmap (:class:`OnBehalf`), while each pointer argument is read in the memory of the
cage that owns it. Ownership rides in the argument's cage slot and nowhere else:
``GRATE_MEMORY_FLAG`` (bit 63) on the caller's own id means "a pointer into my memory" (Lind's
convention); a third cage's id means a pointer into that cage's memory (a pointer passed down
unchanged from above); the target's id, 0, or the caller's id without the flag mean the target
(non-pointer arguments carry any of these). Which owners a caller may name is
``threei/authority.py``'s decision.

*Segments.* RawPOSIX reads a foreign pointer through :class:`CompositeMemory`
(``memory/composite.py``): the runtime
rewrites the argument to ``key << 32 | offset``, where ``key`` selects the owner's memory. A guest
value is never trusted to select a memory: the keys of one call are chosen so that no argument
the runtime passes unchanged has its upper half equal to a key (a value such as
``1 << 32 | addr`` owned by the target then finds no segment and is ``EFAULT``), and keys are even
so that a pointer overflowing its segment's 4 GiB lands in no segment either. Pointers stored
*inside* a struct (an iovec's bases) inherit the struct's segment.

*Process-level effects on behalf of another cage* (``exit``, ``execve``) cannot happen inside the
grate's own fiber: they are recorded on the target (``cage.deferred``) and raised into the
target's fiber when the call it is waiting on returns.

*Authority*: every check is :class:`lind_async.threei.authority.Authority`'s (``mv.authority``);
this module only asks it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from lind_async.abi.errno import EFAULT, EPERM, ESRCH, GuestError
from lind_async.abi.syscalls import SYS_register_handler
from lind_async.memory import CompositeMemory, GuestMemory
from lind_async.rawposix import table as rawposix
from lind_async.rawposix.kernel import CageExit, ExecImage
from lind_async.threei.authority import GRATE_MEMORY_FLAG, ID_MASK
from lind_async.threei.ops import register_handler
from lind_async.threei.route import call_grate, hop

if TYPE_CHECKING:

    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.cage import Cage
    from lind_async.runtime.world import World

_LOW = 0xFFFFFFFF


class OnBehalf:
    """The target cage as RawPOSIX sees it during a forwarded call: everything is the target's
    except ``mem``, which spans every argument owner's memory."""

    __slots__ = ("_cage", "mem")

    def __init__(self, cage: Cage, mem: CompositeMemory) -> None:
        object.__setattr__(self, "_cage", cage)
        object.__setattr__(self, "mem", mem)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cage, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._cage, name, value)


def threei_call(
    mv: World,
    caller: int,
    number: int,
    target_id: int,
    args: tuple[int, ...],
    owners: tuple[int, ...],
) -> SysResult:
    """``threei_call`` from cage (or Python grate) ``caller``: see the module docstring.

    ``owners`` may come raw from a guest (signed 64-bit, ``GRATE_MEMORY_FLAG`` as the sign
    bit): every use masks it. The hot path — a call forwarded with every argument the
    target's — costs a few lookups: the target, the authority, the caller's own route."""
    target = mv.cages.get(target_id)
    if target is None or target.status is not None:
        raise GuestError(ESRCH)
    if not mv.authority.may_name(caller, target_id):  # rule 1 (threei/authority.py)
        raise GuestError(EPERM)
    route = mv.threei.lookup(caller, number)
    if number == SYS_register_handler and route is None:
        return register_handler(target, caller, *args[:4])  # names the forwarder (rule 3)
    own = target.own_owners
    if owners == own:  # the common forward: every argument the target's
        if route is not None:
            return hop(mv, target, route, number, args, own, True)
        # RawPOSIX on the target, its own memory (rawposix_as, inline: every C grate's forward)
        a1, a2, a3, a4, a5, a6 = args
        if target_id == caller:
            return rawposix.dispatch(target, number, a1, a2, a3, a4, a5, a6)
        try:
            result = rawposix.dispatch(target, number, a1, a2, a3, a4, a5, a6)
        except (CageExit, ExecImage) as effect:
            target.deferred = effect
            return 0
        if result.__class__ is int:
            return result
        return _await_on_behalf(target, result)
    if not set(owners).difference((0, target_id)):
        if route is None:
            return rawposix_as(caller, target, number, args)
        return call_grate(mv, target, route, number, args, owners, nested=True)
    checked = mv.authority.argument_owners(caller, target_id, owners)
    if route is not None:
        plain = tuple(owner & ID_MASK for owner in checked)
        return call_grate(mv, target, route, number, args, plain, nested=True)
    return _rawposix_on_behalf(mv, caller, target, number, args, checked)


def rawposix_as(caller: int, target: Cage, number: int, args: tuple[int, ...]) -> SysResult:
    """RawPOSIX runs ``number`` as ``target`` with every pointer in ``target``'s memory."""
    a1, a2, a3, a4, a5, a6 = args
    if target.cage_id == caller:
        return rawposix.dispatch(target, number, a1, a2, a3, a4, a5, a6)
    try:
        result = rawposix.dispatch(target, number, a1, a2, a3, a4, a5, a6)
    except (CageExit, ExecImage) as effect:
        target.deferred = effect
        return 0
    if isinstance(result, int):
        return result
    return _await_on_behalf(target, result)


def _rawposix_on_behalf(
    mv: World,
    caller: int,
    target: Cage,
    number: int,
    args: tuple[int, ...],
    owners: tuple[int, ...],
) -> SysResult:
    foreign = [
        i
        for i, raw in enumerate(owners)
        if (raw & ID_MASK) not in (0, target.cage_id)
        and ((raw & ID_MASK) != caller or raw & GRATE_MEMORY_FLAG)
    ]
    segments: dict[int, GuestMemory] = {}
    tagged = list(args)
    if foreign:
        # Keys no unchanged argument can hold in its upper half (see the module docstring).
        taken = {(args[i] & 0xFFFFFFFFFFFFFFFF) >> 32 for i in range(6) if i not in foreign}
        keys = (key for key in range(2, 64, 2) if key not in taken)
        by_owner: dict[int, int] = {}
        for i in foreign:
            owner = owners[i] & ID_MASK
            key = by_owner.get(owner)
            if key is None:
                cage = mv.cages.get(owner)
                if cage is None or cage.status is not None:
                    raise GuestError(ESRCH)
                key = by_owner[owner] = next(keys)
                segments[key] = cage.mem
            if args[i] & 0xFFFFFFFFFFFFFFFF > _LOW:
                raise GuestError(EFAULT)  # a guest pointer is 32 bits
            tagged[i] = (key << 32) | args[i]
    acting_as_self = target.cage_id == caller
    view = (
        target
        if acting_as_self and not segments
        else OnBehalf(target, CompositeMemory(target.mem, segments))
    )
    try:
        result = rawposix.dispatch(cast("Cage", view), number, *tagged)
    except (CageExit, ExecImage) as effect:
        if acting_as_self:
            raise
        target.deferred = effect
        return 0
    if isinstance(result, int) or acting_as_self:
        return result
    return _await_on_behalf(target, result)


async def _await_on_behalf(target: Cage, pending: Any) -> int:
    try:
        return int(await pending)
    except (CageExit, ExecImage) as effect:
        target.deferred = effect
        return 0
