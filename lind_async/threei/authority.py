"""Authority: who may name which cage, change which route, name which function, own which
argument, and signal whom. Every such decision in lind_async is made here.

Theory of operation
-------------------
Cages are mutually untrusted, and so is every value one of them supplies: cage ids, owners,
function indices, pointers. Authority therefore never comes from a value; it comes from three
records the runtime keeps itself:

- the **creation lineage** (``ProcTable``: who created whom, through fork/vfork/clone; fixed at
  creation, untouched by re-parenting orphans);
- the **principal** of a cage: whose program it runs — itself once it was started from a program
  or ran ``execve``, its creator's principal while it is a fork that has not exec'd (the Lind grate
  pattern: the grate forks, the child sets up routes with the grate's code, then execs the program
  to confine);
- the **calls in flight** through grates (:class:`InFlight`): while cage C's call is inside grate
  G, G acts for C.

The rules (each a method below):

1. *Naming a cage* (a 3i target, an argument owner, a copy end, a table to edit or read):
   ``actor`` may name ``other`` when it is itself, a call from ``other`` is in flight through it, or
   it created ``other`` (directly or through descendants). Anything else is ``EPERM``.
2. *Argument owners*: a pointer's memory is the one its per-argument owner record names, and only
   a cage it may name (rule 1); ``GRATE_MEMORY_FLAG`` may only mark the caller's own id. The bits
   of a value never select a memory: the runtime tags foreign pointers itself with keys no
   argument value can hold (``threei/calls.py``), and a 32-bit guest pointer with anything
   above bit 31 is ``EFAULT``.
3. *Naming a function* (``register_handler``'s handler): only the handler cage's own principal or a
   creator of the handler names its functions; a cage can never make a grate jump to an index of
   its choosing.
4. *Changing a route* installed by principal P (``register_handler``, including ``fn == 0`` back to
   RawPOSIX, and ``copy_handler_table_to_cage``): allowed to P itself or a creator of P, never to
   the cage P confines. One exception keeps grates stackable: a route to grate O may be replaced by
   a route to grate H (not the target itself) whose own table still sends that call to O — H is
   *clamped* by O, so whatever H does with the call still passes through O.
5. *Signals* (within one world: the process table is per microvisor): a cage may signal itself,
   and any cage its credentials allow by POSIX's rule (``core/creds.py``'s ``may_kill``: the same
   real or effective uid as the target's real or saved uid, or an effective uid of 0), and
   ``SIGCONT`` to any cage of its session; but never a grate that serves it (its table routes
   calls there, directly or through the grates below) unless that grate interposes the signal
   call itself (it saw the call and forwarded it): a client cannot kill or stop the grate its
   neighbours depend on. A grate (a cage whose functions another cage's routes name) is
   signalled only along its creation lineage, so another family of the world cannot stop it
   either.

Pure state: no I/O, no event loop; tested directly (``tests/unit/test_authority.py``).
"""

from __future__ import annotations

from lind_async.abi.errno import EPERM, GuestError
from lind_async.core.creds import CredTable, host_creds, may_kill
from lind_async.core.proctable import ProcTable
from lind_async.threei.tables import Route, ThreeI

SIGCONT = 18
GRATE_MEMORY_FLAG = 1 << 63
ID_MASK = GRATE_MEMORY_FLAG - 1


class InFlight:
    """Calls in flight through grates: ``(grate, originating cage) -> count``."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        # On every grate hop: a plain dict (Python grates update it inline:
        # threei/python_grates.py).
        self.counts: dict[tuple[int, int], int] = {}

    def enter(self, grate: int, origin: int) -> None:
        counts, key = self.counts, (grate, origin)
        counts[key] = counts.get(key, 0) + 1

    def leave(self, grate: int, origin: int) -> None:
        counts, key = self.counts, (grate, origin)
        left = counts.get(key, 0) - 1
        if left <= 0:
            counts.pop(key, None)
        else:
            counts[key] = left

    def through(self, grate: int, origin: int) -> bool:
        return self.counts.get((grate, origin), 0) > 0

    def grates_serving(self, origin: int) -> set[int]:
        return {grate for grate, who in self.counts if who == origin}


def _refuse() -> GuestError:
    return GuestError(EPERM)


def acts_for(in_flight: dict[tuple[int, int], int], actor: int, other: int) -> bool:
    """Rule 1's two cases that need no table walk: ``actor`` is ``other``, or a call of
    ``other`` is in flight through ``actor``. The grate hop's hot path asks only this (with the
    in-flight counts it already holds) and takes the general path, :meth:`Authority.may_name`
    included, whenever it says no."""
    return other == actor or (actor, other) in in_flight


class Authority:
    """The rules of the module docstring over the runtime's own records."""

    __slots__ = ("creds", "in_flight", "procs", "threei")

    def __init__(
        self, procs: ProcTable, threei: ThreeI, in_flight: InFlight, creds: CredTable | None = None
    ) -> None:
        self.procs = procs
        self.threei = threei
        self.in_flight = in_flight
        self.creds = CredTable(procs, host_creds()) if creds is None else creds

    # -- rule 1: naming a cage ----------
    def may_name(self, actor: int, other: int) -> bool:
        return acts_for(self.in_flight.counts, actor, other) or self.procs.is_ancestor(actor, other)

    def in_family(self, root: int, cage: int) -> bool:
        """Is ``cage`` ``root`` itself or created by it (through any number of forks)?"""
        return cage == root or self.procs.is_ancestor(root, cage)

    def require_name(self, actor: int, other: int) -> None:
        if not self.may_name(actor, other):
            raise _refuse()

    # -- rule 2: argument owners ----------
    def argument_owners(self, caller: int, target: int, owners: tuple[int, ...]) -> tuple[int, ...]:
        """The owner of each argument of a call ``caller`` forwards as ``target``, checked:
        ``owners`` come raw from a guest (``GRATE_MEMORY_FLAG`` may mark only the caller's own
        id, every other owner must be nameable). The flag is kept (it means "a pointer into the
        caller's memory"); every other bit above the id is dropped."""
        checked = []
        for raw in owners:
            owner = raw & ID_MASK
            flagged = raw & GRATE_MEMORY_FLAG
            if flagged and owner != caller:
                raise _refuse()  # only one's own memory can be flagged
            if owner not in (0, target):
                self.require_name(caller, owner)
            checked.append(owner | flagged)
        return tuple(checked)

    # -- rule 3: naming a grate's functions ----------
    def speaks_for(self, actor: int, cage: int) -> bool:
        """Does ``actor`` act with ``cage``'s own authority: it is ``cage``, a fork of ``cage``
        that has not exec'd (runs its code), or ``cage``'s creator? Two forks of one program do
        not speak for each other."""
        procs = self.procs
        return actor == cage or procs.principal(actor) == cage or procs.is_ancestor(actor, cage)

    def require_handler(self, actor: int, handler_cage: int) -> None:
        if not self.speaks_for(actor, handler_cage):
            raise _refuse()

    def route_owner(self, actor: int) -> int:
        """The principal recorded on a route ``actor`` installs."""
        return self.procs.principal(actor)

    # -- rule 4: changing routes ----------
    def may_change_route(
        self, actor: int, target: int, callnum: int, new: Route | None
    ) -> bool:
        """May ``actor`` make ``target``'s ``callnum`` go to ``new`` (None: RawPOSIX)?"""
        old = self.threei.lookup(target, callnum)
        if old is None or old == new:
            return True
        owner = old.owner or old.handler_cage
        if self.speaks_for(actor, owner):
            return True
        return new is not None and self._clamped(new.handler_cage, target, callnum, old)

    def _clamped(self, handler: int, target: int, callnum: int, old: Route) -> bool:
        """Is ``handler`` confined by ``old``'s grate for ``callnum`` (its own table sends the
        call there), so that routing ``target``'s call through it takes nothing away?"""
        if handler in (target, old.handler_cage):
            return False  # a route to itself would loop; the same grate needs its principal
        below = self.threei.lookup(handler, callnum)
        return below is not None and below.handler_cage == old.handler_cage

    def require_route_change(
        self, actor: int, target: int, callnum: int, new: Route | None
    ) -> None:
        if not self.may_change_route(actor, target, callnum, new):
            raise _refuse()

    def require_table_copy(self, actor: int, src: int, dst: int) -> None:
        """``copy_handler_table_to_cage``: naming both ends, and every route of ``dst`` it would
        replace or drop passes rule 4."""
        self.require_name(actor, src)
        self.require_name(actor, dst)
        source = self.threei.table(src)
        for callnum in set(self.threei.table(dst)) | set(source):
            self.require_route_change(actor, dst, callnum, source.get(callnum))

    # -- rule 5: signals ----------
    def serves(self, grate: int, client: int) -> bool:
        """Does ``grate`` handle calls of ``client``: a route of the client's table leads there,
        directly or through the grates below, or a call of the client is in flight through it?"""
        if (grate, client) in self.in_flight.counts:
            return True
        seen = {client}
        todo = [client]
        while todo:
            cage = todo.pop()
            if not self.threei.has_cage(cage):
                continue
            for handler in {route.handler_cage for route in self.threei.table(cage).values()}:
                if handler == grate:
                    return True
                if handler not in seen:
                    seen.add(handler)
                    todo.append(handler)
        return False

    def may_signal(self, sender: int, target: int, callnum: int, signo: int = 0) -> bool:
        """May ``sender`` send signal ``signo`` to ``target`` with system call ``callnum``?"""
        if target == sender:
            return True
        if self.serves(target, sender):
            route = self.threei.lookup(sender, callnum)
            return route is not None and route.handler_cage == target  # the grate let it through
        procs = self.procs
        lineage = procs.is_ancestor(sender, target) or procs.is_ancestor(target, sender)
        if not lineage and self.threei.clients_of(target) - {target}:
            return False  # a grate: only its own family signals it
        if signo == SIGCONT and self._same_session(sender, target):
            return True
        return may_kill(self.creds.get(sender), self.creds.get(target))

    def _same_session(self, one: int, other: int) -> bool:
        procs = self.procs
        return one in procs and other in procs and procs.get(one).sid == procs.get(other).sid
