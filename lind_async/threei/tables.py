"""3i routing state: one system-call table per cage.

Theory of operation
-------------------
Every system call a cage makes is looked up in *that cage's* table: ``callnum -> Route``. A route
names the handler cage (a grate) and an opaque handler id inside it (for a wasm grate, the function
pointer its ``pass_fptr_to_wt`` entry runs). A number with no route goes to RawPOSIX, which owns the
verdict on unknown numbers (``-ENOSYS``). So a brand-new cage's table is empty and everything goes
to RawPOSIX; *deregistering* a number restores that.

Invariants:
- exactly one route per (cage, number); registering again replaces the previous route;
- ``fork`` copies the parent's table into the child; ``exec`` keeps it (callers simply do nothing);
- 3i's own operations are numbers in the table too (``register_handler`` 1001,
  ``copy_data_between_cages`` 1002, ``copy_handler_table_to_cage`` 1003) so grates can interpose on
  them. ``threei_call`` itself and harsh-exit notification are not numbers and cannot be interposed.

Who may change a route, and to what, is decided in ``threei/authority.py`` (the one place for every
authority rule); this module is pure data and is unit-tested without wasm or an event loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lind_async.abi import syscalls

THREEI_CALLS = frozenset(
    {
        syscalls.SYS_register_handler,
        syscalls.SYS_copy_data_between_cages,
        syscalls.SYS_copy_handler_table_to_cage,
    }
)

MAX_CALLNUM = 1 << 16  # numbers beyond this can never be routed (bounded tables)
# The route a cage's call takes when its number has no route and RawPOSIX does not know it
# either (``syscall(9999)``): a Python grate registered under this number gets such calls (with
# their own number) instead of RawPOSIX's ``-ENOSYS``, so a tracer sees them (runtime/cage.py).
UNKNOWN_CALLS = MAX_CALLNUM - 1


@dataclass(frozen=True, slots=True)
class Route:
    """Where a (cage, callnum) goes: a handler cage and the handler's id inside it, and the
    principal that installed it (``owner``: only it, or an ancestor of it, may take the route
    away again; ``threei/authority.py``). 0: installed by the runtime itself."""

    handler_cage: int
    handler: int
    owner: int = 0


class RoutingError(ValueError):
    """A malformed routing request (a number out of range, an unknown cage)."""


class ThreeI:
    """All cages' handler tables."""

    __slots__ = ("_tables", "generation")

    def __init__(self) -> None:
        self._tables: dict[int, dict[int, Route]] = {}
        # Counts every change of a route or a table's end (never decreases): what a cache of
        # routing decisions compares (the C hop's links: threei/guest_import.py).
        self.generation = 0

    # -- cage lifecycle ----------
    def add_cage(self, cage_id: int) -> None:
        """A new cage: an empty table (everything goes to RawPOSIX)."""
        if cage_id in self._tables:
            raise RoutingError(f"cage {cage_id} already has a table")
        self._tables[cage_id] = {}

    def fork(self, parent: int, child: int) -> None:
        """The child starts with a copy of the parent's table."""
        self._tables[child] = dict(self._table(parent))

    def remove_cage(self, cage_id: int) -> None:
        self._tables.pop(cage_id, None)
        self.generation += 1

    def has_cage(self, cage_id: int) -> bool:
        return cage_id in self._tables

    # -- routing ----------
    def route(self, cage_id: int, callnum: int) -> Route | None:
        """The route for a call, or None for RawPOSIX. The hot path: one dict lookup each."""
        return self._tables[cage_id].get(callnum)

    def lookup(self, cage_id: int, callnum: int) -> Route | None:
        """:meth:`route`, but None (RawPOSIX) also for a cage without a table."""
        table = self._tables.get(cage_id)
        return None if table is None else table.get(callnum)

    def register(
        self, cage_id: int, callnum: int, handler_cage: int, handler: int, owner: int = 0
    ) -> None:
        """Route ``callnum`` of ``cage_id`` to ``handler`` in ``handler_cage`` (replacing any),
        installed by principal ``owner`` (0: the runtime; it defaults to the handler cage)."""
        check_callnum(callnum)
        if handler_cage not in self._tables:
            raise RoutingError(f"no cage {handler_cage}")
        self._table(cage_id)[callnum] = Route(handler_cage, handler, owner or handler_cage)
        self.generation += 1

    def deregister(self, cage_id: int, callnum: int) -> None:
        """Send ``callnum`` of ``cage_id`` back to RawPOSIX."""
        check_callnum(callnum)
        self._table(cage_id).pop(callnum, None)
        self.generation += 1

    def copy_table(self, src: int, dst: int) -> None:
        """Replace ``dst``'s table with a copy of ``src``'s (in place: see :meth:`table`)."""
        source = dict(self._table(src))
        table = self._table(dst)  # the destination must exist too
        table.clear()
        table.update(source)
        self.generation += 1

    def table(self, cage_id: int) -> Mapping[int, Route]:
        """A cage's live table, read-only: the same object for the cage's whole life (edits
        change it in place), so a hot path may keep it and look numbers up directly."""
        return self._table(cage_id)

    def routes(self, cage_id: int) -> Iterator[tuple[int, Route]]:
        """The table's entries, sorted by number (for inspection and tracing)."""
        return iter(sorted(self._table(cage_id).items()))

    def clients_of(self, handler_cage: int) -> set[int]:
        """Cages with at least one call routed to ``handler_cage`` (for harsh-exit notices)."""
        return {
            cage
            for cage, table in self._tables.items()
            if any(route.handler_cage == handler_cage for route in table.values())
        }

    def _table(self, cage_id: int) -> dict[int, Route]:
        try:
            return self._tables[cage_id]
        except KeyError:
            raise RoutingError(f"no cage {cage_id}") from None


def check_callnum(callnum: int) -> None:
    if not 0 <= callnum < MAX_CALLNUM:
        raise RoutingError(f"call number {callnum} out of range")
