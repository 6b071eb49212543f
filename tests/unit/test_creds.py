"""core/creds.py: Linux's rules for changing ids, the kill permission, fork inheritance."""

import pytest

from lind_async.abi.errno import EINVAL, EPERM, GuestError
from lind_async.core.creds import Creds, CredTable, may_kill
from lind_async.core.proctable import MICROVISOR, ProcTable

ROOT = Creds.of_user(0, 0, (0,))
M1 = 0xFFFFFFFF  # (uid_t)-1


def refused(call: object, errno: int = EPERM) -> None:
    with pytest.raises(GuestError) as info:
        call()  # type: ignore[operator]
    assert info.value.errno == errno


def test_root_drops_for_good_with_setuid() -> None:
    user = ROOT.setgroups(()).setgid(100).setuid(1000)
    assert (user.ruid, user.euid, user.suid, user.fsuid) == (1000,) * 4
    assert (user.rgid, user.egid, user.sgid, user.groups) == (100, 100, 100, ())
    refused(lambda: user.setuid(0))
    refused(lambda: user.setresuid(0, M1, M1))
    refused(lambda: user.setreuid(M1, 0))
    refused(lambda: user.setgroups((0,)))
    refused(lambda: user.setgid(0))
    assert user.setuid(1000) == user  # its own id is fine
    refused(lambda: ROOT.setuid(M1), EINVAL)


def test_a_saved_id_lets_the_effective_id_come_back() -> None:
    temp = ROOT.setresuid(M1, 1000, M1)  # seteuid(1000): saved stays 0
    assert (temp.ruid, temp.euid, temp.suid) == (0, 1000, 0)
    assert not temp.privileged
    back = temp.setresuid(M1, 0, M1)
    assert back.euid == 0
    assert temp.setuid(0).euid == 0  # unprivileged setuid to the saved id: effective only
    refused(lambda: temp.setuid(5))


def test_setreuid_sets_the_saved_id_by_linux_rules() -> None:
    swapped = ROOT.setresuid(1000, 2000, 3000).setreuid(M1, 1000)
    assert (swapped.ruid, swapped.euid, swapped.suid) == (1000, 1000, 3000)  # e == old ruid
    other = ROOT.setresuid(1000, 2000, 3000).setreuid(M1, 3000)
    assert (other.ruid, other.euid, other.suid) == (1000, 3000, 3000)
    real = ROOT.setreuid(7, 8)
    assert (real.ruid, real.euid, real.suid, real.fsuid) == (7, 8, 8, 8)


def test_fsuid_never_fails_and_groups_need_privilege() -> None:
    user = Creds.of_user(1000, 100)
    assert user.setfsuid(0) == user and user.setfsuid(M1) == user
    assert ROOT.setfsuid(5).fsuid == 5 and ROOT.setfsgid(6).fsgid == 6
    assert ROOT.setgroups((1, 2, 3)).groups == (1, 2, 3)
    refused(lambda: ROOT.setgroups(tuple(range(70000))), EINVAL)
    refused(lambda: user.setresgid(0, M1, M1))
    assert user.setregid(M1, 100) == user


def test_kill_needs_a_shared_uid_or_privilege() -> None:
    a, b = Creds.of_user(1000, 1), Creds.of_user(2000, 1)
    assert may_kill(a, a) and not may_kill(a, b) and may_kill(ROOT, b)
    assert not may_kill(a, ROOT)
    assert may_kill(a, ROOT.setresuid(M1, M1, 1000))  # the target's saved uid counts
    assert may_kill(ROOT.setresuid(1000, 2000, 0).setresuid(M1, M1, 2000), a)  # the real uid


def test_forks_inherit_at_fork_time_and_keep_it() -> None:
    procs = ProcTable()
    table = CredTable(procs, ROOT)
    procs.add(1, MICROVISOR)
    procs.add(2, 1)
    procs.add(3, 2)
    table.set(1, ROOT.setuid(1000))
    assert table.get(3).ruid == 0 and table.get(2).ruid == 0  # forked before the change
    procs.add(4, 1)
    assert table.get(4).ruid == 1000  # forked after it
    table.set(2, table.get(2).setuid(50))
    assert table.get(3).ruid == 0 and table.get(2).ruid == 50 and table.get(1).ruid == 1000
    procs.add(5, 3)
    procs.exit(3, 0)
    procs.wait(2, 3, 0)  # 3 reaped: 5 keeps what it had
    table.set(4, table.get(4).setuid(1000))  # any change prunes entries of reaped cages
    assert 3 not in procs and table.get(5).ruid == 0
