"""fd tables: lowest-free allocation, shared descriptions, cloexec, limits."""

import pytest

from lind_async.abi.errno import EBADF, EINVAL, EMFILE, GuestError
from lind_async.core.fdtable import FdTable, OpenFile


def errno_of(fn: object) -> int:
    with pytest.raises(GuestError) as info:
        fn()  # type: ignore[operator]
    return info.value.errno


def test_lowest_free_number_first() -> None:
    t = FdTable()
    files = [OpenFile(0) for _ in range(4)]
    assert [t.install(f) for f in files[:3]] == [0, 1, 2]
    assert t.close(1) is files[1]
    assert t.install(files[3]) == 1


def test_dup_shares_description_and_last_close_returns_it() -> None:
    t = FdTable()
    f = OpenFile(0)
    fd = t.install(f)
    copy = t.dup(fd)
    assert t.file(copy) is f and f.refs == 2
    assert t.close(fd) is None
    assert t.close(copy) is f and f.refs == 0


def test_fork_shares_descriptions_but_tables_diverge() -> None:
    parent = FdTable()
    f = OpenFile(0)
    parent.install(f, cloexec=True)
    child = parent.fork()
    assert child.file(0) is f and f.refs == 2 and child.get(0).cloexec
    assert child.close(0) is None
    assert parent.file(0) is f
    assert errno_of(lambda: child.file(0)) == EBADF


def test_brute_force_over_unknown_numbers_is_ebadf() -> None:
    t = FdTable()
    t.install(OpenFile(0))
    for n in (-1, 1, 5, 1023, 1 << 31):
        assert errno_of(lambda n=n: t.file(n)) == EBADF
        assert errno_of(lambda n=n: t.close(n)) == EBADF


def test_close_on_exec_drops_only_marked() -> None:
    t = FdTable()
    keep, drop = OpenFile(0), OpenFile(0)
    t.install(keep)
    t.install(drop, cloexec=True)
    assert t.close_on_exec() == [drop]
    assert 0 in t and 1 not in t


def test_install_at_replaces_and_reports_unused() -> None:
    t = FdTable()
    a, b = OpenFile(0), OpenFile(0)
    t.install(a)
    t.install(b)
    assert t.install_at(1, a) is b
    assert t.file(1) is a and a.refs == 2
    assert t.install_at(1, a) is None  # dup2(fd, fd)-like: nothing released
    assert errno_of(lambda: t.install_at(-1, a)) == EBADF


def test_limit_gives_emfile_and_bad_lowest_einval() -> None:
    t = FdTable(limit=3)
    for _ in range(3):
        t.install(OpenFile(0))
    assert errno_of(lambda: t.install(OpenFile(0))) == EMFILE
    assert errno_of(lambda: t.dup(0, lowest=5)) == EINVAL


def test_close_all_returns_each_description_once() -> None:
    t = FdTable()
    f, g = OpenFile(0), OpenFile(0)
    t.install(f)
    t.dup(0)
    t.install(g)
    released = t.close_all()
    assert sorted(map(id, released)) == sorted(map(id, [f, g]))
    assert len(t) == 0


def test_the_fast_table_follows_every_mutation() -> None:
    """The C trampoline's view (core/fdtable.py, "The fast table"): entry ``vfd`` is the record
    index of the description at ``vfd`` or 0, after every mutation; the per-number counts follow."""
    import ctypes

    from lind_async.core import fdtable

    def entry(t: FdTable, vfd: int) -> int:
        return 0 if not t.fast else (ctypes.c_uint32 * fdtable.FAST_FDS).from_address(t.fast)[vfd]

    def count(vfd: int) -> int:
        return fdtable._counts[vfd]

    base = [count(v) for v in range(8)]
    fast, slow = OpenFile(0), OpenFile(0)
    fast.fast = 7
    t = FdTable()
    assert t.install(slow) == 0 and t.fast == 0  # no table until a fast description comes
    assert t.install(fast) == 1 and entry(t, 1) == 7 and count(1) == base[1] + 1
    assert t.dup(1, cloexec=True) == 2 and entry(t, 2) == 7
    t.install_at(1, slow)  # dup2 of a slow description over the fast one
    assert entry(t, 1) == 0 and count(1) == base[1]
    t.install_at(0, fast)  # and of the fast one over a slow one
    assert entry(t, 0) == 7 and count(0) == base[0] + 1
    child = t.fork()
    assert [entry(child, v) for v in range(3)] == [7, 0, 7] and count(2) == base[2] + 2
    assert child.close_on_exec() == [] and entry(child, 2) == 0 and count(2) == base[2] + 1
    t.close(2)
    assert entry(t, 2) == 0 and count(2) == base[2]
    assert fast.refs == 2
    t.close_all()
    child.close_all()
    assert entry(t, 0) == entry(child, 0) == 0 and fast.refs == 0
    assert [count(v) for v in range(8)] == base
