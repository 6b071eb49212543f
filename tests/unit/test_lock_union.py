"""The union of the in-process locks that the host locks mirror, and the edits between two
unions (lind_async/core/locks.py: RecordTable.union, FlockTable.level, host_changes)."""

from __future__ import annotations

import itertools
import random

from lind_async.core.locks import (
    F_RDLCK,
    F_UNLCK,
    F_WRLCK,
    OFFSET_MAX,
    READ,
    UNLOCKED,
    WRITE,
    FlockTable,
    Owner,
    RecordTable,
    Segment,
    host_changes,
)

KEY = (1, 42)
P1, P2, P3 = Owner(1, posix=True, world=1), Owner(2, posix=True, world=1), Owner(3, True, 1)


def test_union_takes_the_strongest_lock_per_byte_and_merges() -> None:
    table = RecordTable()
    table.set(KEY, P1, 0, 10, F_RDLCK)
    table.set(KEY, P2, 5, 20, F_RDLCK)
    table.set(KEY, P3, 30, OFFSET_MAX, F_WRLCK)
    assert table.union(KEY) == [(0, 20, READ), (30, OFFSET_MAX, WRITE)]
    table.set(KEY, P1, 20, 30, F_WRLCK)
    assert table.union(KEY) == [(0, 20, READ), (20, OFFSET_MAX, WRITE)]
    table.set(KEY, P2, 0, OFFSET_MAX, F_UNLCK)
    assert table.union(KEY) == [(0, 10, READ), (20, OFFSET_MAX, WRITE)]
    assert RecordTable().union(KEY) == []


def test_equal_pids_of_two_worlds_are_two_owners() -> None:
    table = RecordTable()
    a, b = Owner(1, posix=True, world=1), Owner(1, posix=True, world=2)
    assert table.set(KEY, a, 0, 10, F_WRLCK)
    assert not table.set(KEY, b, 5, 6, F_RDLCK)  # another world's pid 1 is someone else
    assert table.release(b) == []  # and cannot drop a's locks
    assert table.union(KEY) == [(0, 10, WRITE)]


def test_owner_locks_restore_undoes_a_change() -> None:
    table = RecordTable()
    table.set(KEY, P1, 0, 10, F_WRLCK)
    table.set(KEY, P2, 20, 30, F_RDLCK)
    saved = table.owner_locks(KEY, P1)
    table.set(KEY, P1, 5, 25, F_RDLCK)
    table.restore(KEY, P1, saved)
    assert table.union(KEY) == [(0, 10, WRITE), (20, 30, READ)]
    table.restore(KEY, P2, [])
    table.restore(KEY, P1, [])
    assert table.locks(KEY) == []


def test_flock_level_is_the_union_of_holders() -> None:
    table = FlockTable()
    assert table.level(KEY) == UNLOCKED
    table.try_lock(KEY, 1, False)
    table.try_lock(KEY, 2, False)
    assert table.level(KEY) == READ
    table.unlock(KEY, 1)
    table.unlock(KEY, 2)
    table.try_lock(KEY, 3, True)
    assert table.level(KEY) == WRITE


def test_host_changes_gain_before_loss() -> None:
    old: list[Segment] = [(0, 10, READ), (10, 20, WRITE)]
    new: list[Segment] = [(0, 5, READ), (5, 15, WRITE), (30, OFFSET_MAX, READ)]
    gains, losses = host_changes(old, new)
    assert gains == [(5, 10, WRITE), (30, OFFSET_MAX, READ)]
    assert losses == [(15, 20, UNLOCKED)]
    assert host_changes(new, new) == ([], [])
    assert host_changes([], [(0, 1, READ)]) == ([(0, 1, READ)], [])
    assert host_changes([(0, 1, WRITE)], [(0, 1, READ)]) == ([], [(0, 1, READ)])


def _levels(segments: list[Segment], size: int) -> list[int]:
    out = [UNLOCKED] * size
    for start, end, level in segments:
        for i in range(start, min(end, size)):
            out[i] = level
    return out


def test_union_and_changes_match_a_byte_by_byte_model() -> None:
    rng = random.Random(7)
    size = 40
    for _ in range(300):
        tables = []
        for _ in range(2):
            table = RecordTable()
            owners = [Owner(i, posix=True, world=1) for i in range(4)]
            for _ in range(rng.randrange(8)):
                start = rng.randrange(size - 1)
                end = rng.randrange(start + 1, size)
                kind = rng.choice((F_RDLCK, F_WRLCK, F_UNLCK))
                table.set(KEY, rng.choice(owners), start, end, kind)
            tables.append(table)
        old, new = tables[0].union(KEY), tables[1].union(KEY)
        model = [UNLOCKED] * size
        for lock in tables[1].locks(KEY):
            for i in range(lock.start, lock.end):
                model[i] = max(model[i], WRITE if lock.write else READ)
        assert _levels(new, size) == model
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(new))
        gains, losses = host_changes(old, new)
        applied = _levels(old, size)
        before = list(applied)
        for start, end, level in gains + losses:
            for i in range(start, end):
                applied[i] = level
        assert applied == model
        for start, end, level in gains:
            assert all(level > before[i] for i in range(start, end))
        for start, end, level in losses:
            assert all(level < before[i] for i in range(start, end))


def test_each_change_covers_one_old_level() -> None:
    gains, losses = host_changes([(5, 10, READ)], [(0, 20, WRITE)])
    assert gains == [(0, 5, WRITE), (5, 10, WRITE), (10, 20, WRITE)]  # undo: 0, READ, 0
    assert losses == []
