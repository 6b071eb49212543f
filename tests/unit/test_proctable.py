"""Process table: parents, zombies, wait4 matching, orphans, groups and sessions."""

import pytest

from lind_async.abi.errno import ECHILD, EINVAL, EPERM, ESRCH, GuestError
from lind_async.core.proctable import (
    CONTINUED_STATUS,
    MICROVISOR,
    WCONTINUED,
    WUNTRACED,
    ProcTable,
    State,
    exited,
    killed,
    stopped,
)


def errno_of(fn: object) -> int:
    with pytest.raises(GuestError) as info:
        fn()  # type: ignore[operator]
    return info.value.errno


def family() -> ProcTable:
    t = ProcTable()
    t.add(1, MICROVISOR)
    t.add(2, 1)
    t.add(3, 1)
    t.add(4, 2)
    return t


def test_status_encoding_matches_linux() -> None:
    assert exited(3) == 0x300 and killed(9) == 9 and stopped(19) == 0x137F


def test_wait_reaps_zombies_and_reports_nothing_while_running() -> None:
    t = family()
    assert t.wait(1, -1, 0) is None
    assert t.exit(3, exited(7)) == [1]
    assert t.wait(1, -1, 0) == (3, exited(7))
    assert 3 not in t
    assert errno_of(lambda: t.wait(1, 3, 0)) == ECHILD


def test_wait_matching_by_pid_and_group() -> None:
    t = family()
    t.exit(2, killed(9))
    assert errno_of(lambda: t.wait(1, 99, 0)) == ECHILD
    assert t.wait(1, 0, 0) == (2, 9)  # same group as the caller
    t.setpgid(3, 0, 0)  # 3 leads its own group now
    t.exit(3, exited(0))
    assert t.wait(1, 0, 0) is None  # 4 (orphaned to 1 when 2 died) still runs in group 1
    assert t.wait(1, -3, 0) == (3, 0)
    t.exit(4, exited(0))
    assert t.wait(1, -1, 0) == (4, 0)
    assert errno_of(lambda: t.wait(1, -1, 0)) == ECHILD
    assert errno_of(lambda: t.wait(1, -1, 0x100)) == EINVAL


def test_orphans_go_to_the_reaper_and_zombie_orphans_wake_it() -> None:
    t = family()
    t.exit(4, exited(1))  # grandchild dies first: a zombie of 2
    assert t.exit(2, exited(0)) == [1]
    assert t.get(1).children == {2, 3, 4}
    assert t.wait(1, 4, 0) == (4, exited(1))


def test_orphans_go_to_the_nearest_living_subreaper() -> None:
    t = family()
    t.add(5, 4)  # 1 -> 2 -> 4 -> 5
    t.get(2).subreaper = True
    assert t.exit(4, exited(0)) == [2]  # 5 goes to 2, not to the reaper 1
    assert t.get(5).ppid == 2 and 5 in t.get(2).children
    t.exit(2, exited(0))  # a dead subreaper adopts nothing: 5 goes on up, to 1
    assert t.get(5).ppid == 1


def test_top_level_exit_removes_and_reparents_to_microvisor() -> None:
    t = family()
    assert t.exit(1, exited(0)) == []
    assert 1 not in t
    assert t.get(2).ppid == MICROVISOR
    t.exit(2, exited(0))
    assert 2 not in t  # nobody will wait for it


def test_orphans_stay_in_their_family_and_authority_follows_creation() -> None:
    t = family()  # 1 -> 2 -> 4, 1 -> 3
    t.add(10, MICROVISOR)  # a second, unrelated family: 10 -> 11 -> 12
    t.add(11, 10)
    t.add(12, 11)
    t.exit(11, exited(0))
    assert t.get(12).ppid == 10  # its own family's init, never cage 1
    assert not t.is_ancestor(1, 12) and t.is_ancestor(10, 12)
    t.exit(2, exited(0))  # 4 is re-parented to 1, but 1 created it through 2 anyway
    assert t.get(4).ppid == 1 and t.is_ancestor(1, 4) and not t.is_ancestor(3, 4)


def test_reparenting_gives_no_authority() -> None:
    t = ProcTable()
    t.add(1, MICROVISOR)
    t.add(2, 1)
    t.add(3, 2)
    t.get(1).subreaper = True
    t.add(5, MICROVISOR)
    t.exit(2, exited(0))
    assert t.get(3).ppid == 1
    assert t.is_ancestor(1, 3)
    assert not t.is_ancestor(5, 3) and not t.is_ancestor(3, 1)


def test_principal_is_the_program_run() -> None:
    t = family()  # 1 -> 2 -> 4
    assert t.principal(2) == 1 and t.principal(4) == 1  # forks that have not exec'd
    t.exec(2)
    assert t.principal(2) == 2 and t.principal(4) == 1
    t.add(7, 2)
    assert t.principal(7) == 2
    assert t.principal(999) == 999  # not a process (a Python grate): its own


def test_stop_and_continue_reported_only_when_asked() -> None:
    t = family()
    assert t.stop(2, 19) == 1
    assert t.get(2).state is State.STOPPED
    assert t.wait(1, 2, 0) is None
    assert t.wait(1, 2, WUNTRACED) == (2, stopped(19))
    assert t.wait(1, 2, WUNTRACED) is None
    assert t.resume(2) == 1
    assert t.wait(1, 2, WCONTINUED) == (2, CONTINUED_STATUS)


def test_process_groups_and_sessions() -> None:
    t = family()
    assert t.get(4).pgid == 1 and t.get(4).sid == 1
    assert errno_of(lambda: t.setsid(1)) == EPERM  # a group leader
    assert t.setsid(4) == 4
    assert (t.get(4).pgid, t.get(4).sid) == (4, 4)
    assert errno_of(lambda: t.setpgid(1, 4, 1)) == ESRCH  # not the caller's child
    assert errno_of(lambda: t.setpgid(2, 4, 1)) == EPERM  # another session
    t.setpgid(1, 3, 0)
    assert t.group(3) == [3]
    t.setpgid(1, 2, 3)
    assert t.group(3) == [2, 3]
    assert errno_of(lambda: t.setpgid(1, 2, 77)) == EPERM  # no such group in the session
    assert t.is_ancestor(1, 4) and t.is_ancestor(2, 4) and not t.is_ancestor(3, 4)


def test_a_parent_that_keeps_no_zombies_has_its_children_released_at_exit() -> None:
    t = family()
    ignores = {2}.__contains__  # cage 2 ignores SIGCHLD (or set SA_NOCLDWAIT)
    assert t.exit(4, exited(1), ignores) == [2]  # still woken: a blocked wait must see ECHILD
    assert 4 not in t and errno_of(lambda: t.wait(2, -1, 0)) == ECHILD
    assert t.exit(3, exited(2), ignores) == [1]  # cage 1 keeps its zombies
    assert t.wait(1, 3, 0) == (3, exited(2))


def test_zombies_adopted_by_a_parent_that_keeps_none_are_released() -> None:
    t = family()
    t.exit(4, exited(1))  # a zombie of 2
    t.exit(2, exited(0), {1}.__contains__)  # 4 goes to 1, which keeps no zombies; so does 2
    assert 4 not in t and 2 not in t
    assert t.wait(1, -1, 0) is None  # 3 still runs
    assert sorted(t.get(1).children) == [3]


def test_wnohang_polling_sequence() -> None:
    """A polling parent sees nothing, then each child as it exits, then ECHILD."""
    t = family()
    assert t.wait(1, -1, 1) is None
    t.exit(3, exited(7))
    assert t.wait(1, -1, 1) == (3, exited(7))
    assert t.wait(1, -1, 1) is None
    t.exit(2, killed(9))  # its running child 4 is adopted by 1
    assert t.wait(1, 0, 1) == (2, killed(9))  # same group
    assert t.wait(1, -1, 1) is None
    t.exit(4, exited(0))
    assert t.wait(1, -1, 1) == (4, exited(0))
    assert errno_of(lambda: t.wait(1, -1, 1)) == ECHILD


def test_setsid_succeeds_for_a_member_that_does_not_lead_a_group() -> None:
    t = family()
    assert t.setsid(4) == 4 and t.get(4).pgid == 4 and t.get(4).sid == 4
    assert errno_of(lambda: t.setsid(4)) == EPERM  # now it leads one
    t.setpgid(1, 3, 3)
    assert errno_of(lambda: t.setsid(3)) == EPERM
