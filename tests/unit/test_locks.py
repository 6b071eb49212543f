"""The pure lock tables: flock and fcntl record locks (lind_async/core/locks.py)."""

from __future__ import annotations

from lind_async.core.locks import (
    F_RDLCK,
    F_UNLCK,
    F_WRLCK,
    OFFSET_MAX,
    FlockTable,
    Owner,
    RecordTable,
    byte_range,
)

KEY = (1, 42)
OTHER_KEY = (1, 43)


# -- flock ----------------------------------------------------------------------------------------
def test_flock_shared_locks_coexist_exclusive_conflicts() -> None:
    table = FlockTable()
    assert table.try_lock(KEY, 1, False) == (True, False)
    assert table.try_lock(KEY, 2, False) == (True, False)
    assert table.try_lock(KEY, 3, True) == (False, False)
    assert table.unlock(KEY, 1) and table.unlock(KEY, 2)
    assert table.try_lock(KEY, 3, True) == (True, False)
    assert table.try_lock(KEY, 1, False) == (False, False)
    assert table.try_lock(OTHER_KEY, 1, True) == (True, False)  # another file is independent


def test_flock_relock_by_owner_is_a_no_op_and_unlock_reports() -> None:
    table = FlockTable()
    table.try_lock(KEY, 1, True)
    assert table.try_lock(KEY, 1, True) == (True, False)
    assert table.unlock(KEY, 1)
    assert not table.unlock(KEY, 1)
    assert table.holders(KEY) == {}


def test_flock_conversion_drops_the_old_lock_when_it_must_wait() -> None:
    table = FlockTable()
    table.try_lock(KEY, 1, False)
    table.try_lock(KEY, 2, False)
    granted, changed = table.try_lock(KEY, 1, True)  # sh -> ex while 2 holds sh
    assert (granted, changed) == (False, True)
    assert table.holders(KEY) == {2: False}  # Linux: a conversion is not atomic


def test_flock_downgrade_wakes_waiters() -> None:
    table = FlockTable()
    table.try_lock(KEY, 1, True)
    assert table.try_lock(KEY, 1, False) == (True, True)
    assert table.try_lock(KEY, 2, False) == (True, False)


# -- record locks ---------------------------------------------------------------------------------
P1, P2, P3 = Owner(101, posix=True), Owner(102, posix=True), Owner(103, posix=True)
OFD = Owner(0xABC, posix=False)


def test_read_locks_share_write_locks_exclude() -> None:
    table = RecordTable()
    assert table.set(KEY, P1, 0, 10, F_RDLCK)
    assert table.set(KEY, P2, 5, 15, F_RDLCK)
    assert not table.set(KEY, P3, 8, 9, F_WRLCK)
    blocker = table.conflict(KEY, P3, 8, 9, True)
    assert blocker is not None and blocker.owner == P1
    assert table.set(KEY, P3, 15, 20, F_WRLCK)  # adjacent, not overlapping
    assert table.conflict(KEY, P1, 0, 5, True) is None  # own lock never conflicts


def test_unlock_splits_a_range() -> None:
    table = RecordTable()
    table.set(KEY, P1, 0, 100, F_WRLCK)
    table.set(KEY, P1, 40, 60, F_UNLCK)
    spans = [(lk.start, lk.end) for lk in table.locks(KEY)]
    assert spans == [(0, 40), (60, 100)]
    assert table.set(KEY, P2, 40, 60, F_WRLCK)


def test_relock_changes_type_in_place_and_merges() -> None:
    table = RecordTable()
    table.set(KEY, P1, 0, 10, F_WRLCK)
    table.set(KEY, P1, 10, 20, F_WRLCK)
    assert [(lk.start, lk.end, lk.write) for lk in table.locks(KEY)] == [(0, 20, True)]
    table.set(KEY, P1, 5, 15, F_RDLCK)
    got = [(lk.start, lk.end, lk.write) for lk in table.locks(KEY)]
    assert got == [(0, 5, True), (5, 15, False), (15, 20, True)]
    assert table.set(KEY, P2, 6, 14, F_RDLCK)
    assert not table.set(KEY, P2, 4, 6, F_RDLCK)


def test_whole_file_lock_and_release_by_owner() -> None:
    table = RecordTable()
    table.set(KEY, P1, 0, OFFSET_MAX, F_WRLCK)
    table.set(OTHER_KEY, P1, 0, 1, F_RDLCK)
    assert not table.set(KEY, P2, 1 << 40, (1 << 40) + 1, F_RDLCK)
    assert sorted(table.release(P1)) == [KEY, OTHER_KEY]
    assert table.set(KEY, P2, 0, 1, F_WRLCK)
    assert table.release(P1) == []


def test_release_one_file_only() -> None:
    table = RecordTable()
    table.set(KEY, P1, 0, 1, F_WRLCK)
    table.set(OTHER_KEY, P1, 0, 1, F_WRLCK)
    assert table.release(P1, KEY) == [KEY]
    assert table.locks(KEY) == [] and len(table.locks(OTHER_KEY)) == 1


def test_ofd_and_posix_locks_conflict() -> None:
    table = RecordTable()
    table.set(KEY, OFD, 0, 10, F_WRLCK)
    blocker = table.conflict(KEY, P1, 0, 1, False)
    assert blocker is not None and blocker.owner.pid == -1
    assert P1.pid == 101


def test_deadlock_detection_follows_the_waits_for_chain() -> None:
    table = RecordTable()
    table.start_wait(P1, P2)  # P1 waits for P2
    table.start_wait(P2, P3)  # P2 waits for P3
    assert table.would_deadlock(P3, P1)  # P3 waiting for P1 closes the cycle
    assert not table.would_deadlock(P3, Owner(104, posix=True))
    assert not table.would_deadlock(OFD, P1)  # OFD locks are not checked (as Linux)
    table.end_wait(P2)
    assert not table.would_deadlock(P3, P1)


def test_byte_range_forms() -> None:
    assert byte_range(10, 5) == (10, 15)
    assert byte_range(10, 0) == (10, OFFSET_MAX)
    assert byte_range(10, -4) == (6, 10)
    assert byte_range(2, -4) is None
    assert byte_range(-1, 1) is None
    assert byte_range(OFFSET_MAX, 2) is None
