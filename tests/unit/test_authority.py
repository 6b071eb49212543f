"""threei/authority.py's rules on plain state: lineage, principals, route owners, clamping,
argument owners and signals."""

import pytest

from lind_async.abi.errno import EPERM, GuestError
from lind_async.core.creds import Creds, CredTable
from lind_async.core.proctable import MICROVISOR, ProcTable
from lind_async.threei.authority import GRATE_MEMORY_FLAG, SIGCONT, Authority, InFlight
from lind_async.threei.tables import Route, ThreeI

USER = Creds.of_user(1000, 1000)


def world() -> Authority:
    """1 (a grate) forks 2, which registers 2:geteuid -> 1 and execs the app; 2 forks 3.
    9 is an unrelated top-level cage."""
    procs, threei = ProcTable(), ThreeI()
    for pid, parent in ((1, MICROVISOR), (2, 1), (9, MICROVISOR)):
        procs.add(pid, parent)
        threei.add_cage(pid)
    auth = Authority(procs, threei, InFlight(), CredTable(procs, USER))
    assert auth.speaks_for(2, 1)  # a fork of the grate that has not exec'd yet
    threei.register(2, 107, 1, 0x10, auth.route_owner(2))
    procs.exec(2)
    procs.add(3, 2)
    threei.fork(2, 3)
    return auth


def test_naming_follows_creation_and_calls_in_flight() -> None:
    auth = world()
    assert auth.may_name(1, 3) and auth.may_name(2, 3) and auth.may_name(3, 3)
    assert not auth.may_name(3, 2) and not auth.may_name(9, 3) and not auth.may_name(3, 9)
    auth.in_flight.enter(9, 3)
    assert auth.may_name(9, 3)  # a call of 3 is inside 9


def test_the_confined_cage_cannot_change_its_grates_route() -> None:
    auth = world()
    assert auth.threei.route(2, 107) == Route(1, 0x10, 1)  # owned by the grate's principal
    assert not auth.may_change_route(2, 2, 107, None)
    assert not auth.may_change_route(3, 3, 107, Route(3, 5, 3))  # to itself: would loop
    assert auth.may_change_route(1, 2, 107, None)  # the grate itself may
    assert auth.may_change_route(2, 2, 108, Route(2, 5, 2))  # an unrouted number is its own


def test_stacking_is_allowed_only_when_clamped() -> None:
    auth = world()
    auth.procs.add(4, 3)  # 3 runs a grate now; 4 is its fork, confined by 1 for geteuid
    auth.threei.fork(3, 4)
    auth.procs.exec(3)
    assert auth.may_change_route(4, 4, 107, Route(3, 7, 3))  # 3's own geteuid goes to 1
    auth.threei.register(3, 107, 3, 9, 3)  # but once 3 answers geteuid itself, it is not
    assert not auth.may_change_route(4, 4, 107, Route(3, 7, 3))


def test_functions_are_named_by_their_principal_only() -> None:
    auth = world()
    assert auth.speaks_for(1, 1) and auth.speaks_for(1, 3)  # a creator speaks for its creations
    assert not auth.speaks_for(2, 1) and not auth.speaks_for(3, 1)  # exec'd: its own principal
    auth.procs.add(5, 1)
    auth.procs.add(6, 1)
    assert auth.speaks_for(5, 1) and not auth.speaks_for(5, 6)  # siblings do not


def test_argument_owners_are_checked_and_the_flag_is_the_callers_only() -> None:
    auth = world()
    assert auth.argument_owners(1, 3, (3, 0, 1 | GRATE_MEMORY_FLAG, 2, 3, 3)) == (
        3, 0, 1 | GRATE_MEMORY_FLAG, 2, 3, 3)
    for bad in ((9, 3, 3, 3, 3, 3), (3 | GRATE_MEMORY_FLAG, 3, 3, 3, 3, 3)):
        with pytest.raises(GuestError) as info:
            auth.argument_owners(1, 3, bad)
        assert info.value.errno == EPERM
    with pytest.raises(GuestError):
        auth.argument_owners(1, 3, (-1, 3, 3, 3, 3, 3))  # a negative owner is a huge id


def test_a_client_cannot_signal_the_grate_that_serves_it() -> None:
    auth = world()
    assert auth.serves(1, 3) and not auth.serves(9, 3)
    assert not auth.may_signal(3, 1, 62) and not auth.may_signal(2, 1, 62)
    assert auth.may_signal(1, 3, 62) and auth.may_signal(3, 3, 62)
    assert not auth.may_signal(9, 1, 62)  # a grate: another family of the world, same user
    auth.threei.register(3, 62, 1, 0x11, 1)  # the grate interposes kill: its own decision
    assert auth.may_signal(3, 1, 62)


def test_signals_follow_posix_credentials_within_the_world() -> None:
    """Was the creation lineage only; POSIX lets any process of the same user signal (a new
    ``nginx -s reload`` process signals the running master, a sibling, or another family)."""
    auth = world()
    auth.procs.add(4, 2)  # 3's sibling
    auth.threei.fork(2, 4)
    assert auth.may_signal(3, 4, 62) and auth.may_signal(3, 9, 62) and auth.may_signal(9, 3, 62)
    auth.creds.set(9, Creds.of_user(2000, 2000))  # another user: neither way
    assert not auth.may_signal(3, 9, 62) and not auth.may_signal(9, 3, 62)
    auth.creds.set(4, Creds.of_user(0, 0))  # root signals anyone (CAP_KILL), no one signals it
    assert auth.may_signal(4, 9, 62) and not auth.may_signal(3, 4, 62)
    assert not auth.may_signal(2, 4, 62)  # even its creator, as on Linux
    assert auth.may_signal(2, 4, 62, SIGCONT)  # but SIGCONT within the session is allowed
    assert not auth.may_signal(9, 3, 62, SIGCONT)  # 9 leads its own session
    assert not auth.may_signal(4, 1, 62)  # a grate that serves it: root or not
