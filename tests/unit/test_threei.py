"""3i routing tables: pure state, no wasm, no loop."""

import pytest

from lind_async.abi import syscalls
from lind_async.threei.tables import THREEI_CALLS, Route, RoutingError, ThreeI


def make(*cages: int) -> ThreeI:
    t = ThreeI()
    for c in cages:
        t.add_cage(c)
    return t


def test_new_cage_routes_everything_to_rawposix() -> None:
    t = make(1)
    assert all(t.route(1, n) is None for n in range(0, 400))
    assert all(t.route(1, n) is None for n in THREEI_CALLS)


def test_register_routes_only_that_cage_and_number() -> None:
    t = make(1, 2, 3)
    t.register(1, syscalls.SYS_geteuid, handler_cage=3, handler=0x40)
    assert t.route(1, syscalls.SYS_geteuid) == Route(3, 0x40, 3)
    assert t.route(1, syscalls.SYS_getuid) is None
    assert t.route(2, syscalls.SYS_geteuid) is None


def test_registration_replaces_and_deregistration_restores() -> None:
    t = make(1, 2, 3)
    t.register(1, 39, 2, 1)
    t.register(1, 39, 3, 2)
    assert t.route(1, 39) == Route(3, 2, 3)
    t.deregister(1, 39)
    assert t.route(1, 39) is None
    t.deregister(1, 39)  # idempotent


def test_fork_copies_table_and_tables_then_diverge() -> None:
    t = make(1, 5)
    t.register(1, 1, 5, 7)
    t.fork(1, 2)
    assert t.route(2, 1) == Route(5, 7, 5)
    t.register(2, 1, 5, 8)
    assert t.route(1, 1) == Route(5, 7, 5)


def test_copy_table_replaces_destination() -> None:
    t = make(1, 2, 9)
    t.register(1, 3, 9, 1)
    t.register(2, 4, 9, 2)
    t.copy_table(1, 2)
    assert t.route(2, 3) == Route(9, 1, 9)
    assert t.route(2, 4) is None


def test_live_table_follows_every_edit() -> None:
    """Hot paths keep a cage's table object: registering, deregistering and copying a table
    over it must all show through that same object."""
    t = make(1, 2, 9)
    live = t.table(2)
    t.register(2, 5, 9, 7)
    assert live.get(5) == Route(9, 7, 9)
    t.register(1, 3, 9, 1)
    t.copy_table(1, 2)
    assert dict(live) == {3: Route(9, 1, 9)}
    t.deregister(2, 3)
    assert live.get(3) is None
    t.copy_table(2, 2)  # onto itself: unchanged, not emptied
    assert dict(live) == {}
    t.register(2, 8, 9, 8)
    t.copy_table(2, 2)
    assert dict(live) == {8: Route(9, 8, 9)}


def test_copy_table_to_unknown_cage_is_an_error() -> None:
    t = make(1)
    with pytest.raises(RoutingError):
        t.copy_table(1, 42)
    assert not t.has_cage(42)


def test_bad_numbers_and_unknown_handler_cages_rejected() -> None:
    t = make(1)
    with pytest.raises(RoutingError):
        t.register(1, -1, 1, 0)
    with pytest.raises(RoutingError):
        t.register(1, 1 << 20, 1, 0)
    with pytest.raises(RoutingError):
        t.register(1, 1, 77, 0)
    with pytest.raises(RoutingError):
        t.add_cage(1)


def test_threei_numbers_are_reserved_table_entries() -> None:
    assert {1001, 1002, 1003} == THREEI_CALLS
    t = make(1, 2)
    t.register(1, syscalls.SYS_register_handler, 2, 5)
    assert t.route(1, 1001) == Route(2, 5, 2)


def test_clients_of_and_remove() -> None:
    t = make(1, 2, 3)
    t.register(1, 0, 3, 1)
    t.register(2, 1, 3, 1)
    assert t.clients_of(3) == {1, 2}
    t.remove_cage(1)
    assert t.clients_of(3) == {2}
    assert list(t.routes(2)) == [(1, Route(3, 1, 3))]


def test_a_route_records_who_installed_it() -> None:
    t = make(1, 2, 3)
    t.register(1, 39, handler_cage=3, handler=2, owner=2)
    assert t.route(1, 39) == Route(3, 2, 2)
    t.add_cage(4)
    t.copy_table(1, 4)
    assert t.route(4, 39) == Route(3, 2, 2)  # copies keep their owner


def test_every_route_change_moves_the_generation() -> None:
    """What the C hop's links compare (threei/guest_import.py): every edit of a route or the end
    of a table counts; reading and adding cages do not (a new cage's table changes no route)."""
    t = make(1, 2, 3)
    seen = [t.generation]

    def moved() -> bool:
        seen.append(t.generation)
        return seen[-1] > seen[-2]

    t.route(1, 39)
    t.table(1)
    t.add_cage(4)
    t.fork(1, 5)
    assert not moved()
    t.register(1, 39, 2, 1)
    assert moved()
    t.register(1, 39, 2, 1)  # the same route again: still counted (never missed)
    assert moved()
    t.deregister(1, 39)
    assert moved()
    t.copy_table(2, 1)
    assert moved()
    t.remove_cage(3)
    assert moved()
