"""The host fd budget (core/hostfds.py) and fd-table limits (core/fdtable.py), without I/O."""

from __future__ import annotations

import pytest

from lind_async.abi.errno import EINVAL, EMFILE, GuestError
from lind_async.core.fdtable import FdTable, OpenFile
from lind_async.core.hostfds import MAX_RESERVE, MIN_RESERVE, HostFdBudget, reserve_for


@pytest.mark.parametrize(
    ("limit", "reserve"),
    [(20000, MAX_RESERVE), (1024, MIN_RESERVE), (4096, 256), (1 << 20, MAX_RESERVE),
     (100, 50), (0, 0)],
)
def test_reserve_is_a_sixteenth_within_bounds(limit: int, reserve: int) -> None:
    assert reserve_for(limit) == reserve


def test_budget_admits_only_numbers_below_the_ceiling() -> None:
    budget = HostFdBudget(1024)
    assert budget.ceiling == 1024 - MIN_RESERVE
    assert budget.admits(0) and budget.admits(budget.ceiling - 1)
    assert not budget.admits(budget.ceiling)
    assert not budget.admits(1023)
    assert not budget.admits(-1)


def _err(call: object) -> int:
    with pytest.raises(GuestError) as info:
        call()  # type: ignore[operator]
    return info.value.errno


def test_open_beyond_the_limit_is_emfile_and_lowering_it_applies_at_once() -> None:
    table = FdTable(limit=5, hard_limit=8)
    for expected in range(5):
        assert table.install(OpenFile(0)) == expected
    assert _err(lambda: table.install(OpenFile(0))) == EMFILE
    table.limit = 2  # setrlimit below the open descriptors: they stay, new ones fail
    table.close(0)
    assert table.install(OpenFile(0)) == 0
    assert _err(lambda: table.install(OpenFile(0))) == EMFILE
    table.limit = 0
    assert _err(lambda: table.install(OpenFile(0))) == EMFILE


def test_dup_at_or_past_the_limit_is_einval_dup2_ebadf() -> None:
    table = FdTable(limit=4, hard_limit=4)
    table.install(OpenFile(0))
    assert _err(lambda: table.dup(0, lowest=4)) == EINVAL
    assert _err(lambda: table.dup(0, lowest=-1)) == EINVAL
    assert table.dup(0, lowest=3) == 3
    assert _err(lambda: table.dup(0, lowest=3)) == EMFILE
    assert _err(lambda: table.install_at(4, OpenFile(0))) == 9  # EBADF


def test_a_forked_table_keeps_the_limits() -> None:
    table = FdTable(limit=10, hard_limit=20)
    child = table.fork()
    assert (child.limit, child.hard_limit) == (10, 20)


def test_limits_parse_reads_run_limit_options() -> None:
    from lind_async.runtime.limits import Limits

    got = Limits.parse(["fds=64", "memory=16M", "cpu-time=1.5", "children=3"])
    assert got == Limits(memory=16 << 20, cpu_time=1.5, fds=64, children=3)
    assert Limits.parse([]) == Limits()
    assert Limits.parse(["memory=131072"]).memory == 131072
    for bad in (["fds"], ["files=3"], ["fds=many"], ["memory=12Q"], ["fds=2"]):
        with pytest.raises(ValueError):
            Limits.parse(bad)
