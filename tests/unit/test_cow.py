"""memory/cow.py: the range arithmetic, and backings over plain host memory (no wasm): each side
of a fork sees its own writes through the first fork, a fold, a layered child and its
flattening; zeros given
back; shared ranges left alone; every snapshot fd closed at the end."""

from __future__ import annotations

import ctypes
import mmap
import os

import pytest

from lind_async.memory import GuestMemory, cow

P = cow.PAGE
SIZE = 64 * P


def test_page_ranges_subtract_intersect() -> None:
    assert cow.page_ranges([(5 * P, 6 * P), (10, 20), (P, 2 * P + 1), (3 * P, 3 * P)]) == [
        (0, 3 * P), (5 * P, 6 * P)]
    assert cow.subtract([(0, 10 * P)], [(P, 2 * P), (4 * P, 5 * P), (9 * P, 12 * P)]) == [
        (0, P), (2 * P, 4 * P), (5 * P, 9 * P)]
    assert cow.subtract([(0, P), (2 * P, 3 * P)], []) == [(0, P), (2 * P, 3 * P)]
    assert cow.intersect([(0, 3 * P), (5 * P, 8 * P)], [(2 * P, 6 * P)]) == [
        (2 * P, 3 * P), (5 * P, 6 * P)]
    assert cow.intersect([(0, P)], [(P, 2 * P)]) == []
    assert list(cow.dirty_runs(bytes([0, 1, 1, 0, 1]), 10)) == [(11 * P, 13 * P), (14 * P, 15 * P)]


class _Memory:
    """A linear memory stand-in: a private anonymous host mapping, as wasmtime's."""

    def __init__(self) -> None:
        self.map = mmap.mmap(-1, SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(self.map))

    def size(self) -> int:
        return SIZE


def _memory() -> tuple[_Memory, GuestMemory]:
    m = _Memory()
    return m, GuestMemory(m, null_page=0)


def _snapshot_fds() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += "lind-linear-memory" in os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
    return n


def _fork(parent: cow.Backing, shared: list[tuple[int, int]] | None = None
          ) -> tuple[_Memory, GuestMemory, cow.Backing]:
    handle, mem = _memory()
    child = parent.fork(SIZE, mem.host_range(0, SIZE), shared or [], [(0, SIZE)])
    cow.register(handle, child)
    return handle, mem, child


def test_fork_paths_keep_each_side_apart() -> None:
    before = _snapshot_fds()
    ph, parent = _memory()
    backing = cow.Backing.create(ph, parent)
    assert cow.backing_of(ph) is backing and backing.owned
    parent.write(P, b"first")
    c1h, c1, b1 = _fork(backing)  # the first fork: a remap, nothing copied
    assert not backing.owned and backing.snap is b1.snap and b1.snap is not None
    assert b1.snap.users == 2
    parent.write(P, b"later")
    c1.write(2 * P, b"child")
    assert c1.read(P, 5) == b"first" and parent.read(2 * P, 5) == bytes(5)
    c2h, c2, b2 = _fork(backing)  # the snapshot is still shared: the child gets a patch
    assert b2.snap is backing.snap is b1.snap and b2.patch is not None
    assert b2.patches == [(P, 2 * P)]
    assert c2.read(P, 5) == b"later" and c1.read(P, 5) == b"first"
    parent.write(P, b"third")
    c2.write(5 * P, b"grand")
    gh, grand, bg = _fork(b2)  # a layered child forks: flattened into a snapshot of its own
    assert b2.patch is None and b2.snap is bg.snap and b2.snap is not backing.snap
    assert grand.read(P, 5) == b"later" and grand.read(5 * P, 5) == b"grand"
    assert c2.read(P, 5) == b"later" and parent.read(P, 5) == b"third"
    cow.release(gh)
    cow.release(c1h)
    cow.release(c2h)
    assert backing.snap is not None and backing.snap.users == 1
    parent.write(3 * P, b"again")
    c3h, c3, b3 = _fork(backing)  # no one else maps it: folded back
    assert b3.snap is backing.snap
    assert c3.read(P, 5) == b"third" and c3.read(3 * P, 5) == b"again"
    parent.write(3 * P, b"after")
    assert c3.read(3 * P, 5) == b"again"
    cow.release(c3h)
    cow.release(ph)
    assert cow.backing_of(ph) is None
    assert _snapshot_fds() == before


def test_zero_and_shared_ranges() -> None:
    ph, parent = _memory()
    backing = cow.Backing.create(ph, parent)
    parent.write(4 * P, b"x" * P)
    assert backing.zero(4 * P, 5 * P, remap=False)  # owned: a hole in the snapshot
    assert parent.read(4 * P, P) == bytes(P)
    assert not backing.zero(5, P, remap=False)  # not whole pages: the caller zeroes
    parent.write(8 * P, b"shared")
    ch, child, _ = _fork(backing, shared=[(8 * P, 9 * P)])
    assert child.read(8 * P, 6) == bytes(6)  # a shared range is the caller's to map
    parent.write(6 * P, b"y" * P)
    assert backing.zero(6 * P, 7 * P, remap=True)  # private: anonymous zeros, an override
    assert parent.read(6 * P, P) == bytes(P) and backing.overrides == [(6 * P, 7 * P)]
    parent.write(6 * P, b"z")
    cow.release(ch)
    ch2, child2, _ = _fork(backing)
    assert child2.read(6 * P, 2) == b"z\0" and backing.overrides == []
    cow.release(ch2)
    cow.release(ph)


def test_released_backing_gives_anonymous_zeros_and_cannot_fork() -> None:
    """A vfork child may still run on a memory whose owner ended: zeros given back are
    anonymous pages (the memfd is gone), and a fork of it copies instead."""
    ph, parent = _memory()
    backing = cow.Backing.create(ph, parent)
    parent.write(2 * P, b"data")
    cow.release(ph)
    assert cow.backing_of(ph) is None and backing.snap is None
    assert cow.zero_pages(ph, 2 * P, 3 * P, remap=False)
    assert parent.read(2 * P, 4) == bytes(4)
    parent.write(2 * P, b"more")
    assert parent.read(2 * P, 4) == b"more"
    with pytest.raises(OSError):
        backing.fork(SIZE, 0, [], [])
    other, _ = _memory()
    assert not cow.zero_pages(other, 0, P, remap=False)  # never had one


class _Growing(_Memory):
    """A memory that grows past the size its backing was made for (a guest ``memory.grow``)."""

    def __init__(self) -> None:
        super().__init__()
        self.current = SIZE // 2

    def size(self) -> int:
        return self.current


def test_growth_past_the_backing_is_carried_by_a_fork() -> None:
    ph = _Growing()
    parent = GuestMemory(ph, null_page=0)
    backing = cow.Backing.create(ph, parent)
    assert backing.size == SIZE // 2
    ph.current = SIZE  # grown: the new pages are wasmtime's anonymous ones
    parent.write(SIZE - P, b"grown")
    parent.write(P, b"low")
    ch, child, mine = _fork(backing)
    assert backing.size == mine.size == SIZE
    assert child.read(SIZE - P, 5) == b"grown" and child.read(P, 3) == b"low"
    parent.write(SIZE - P, b"later")
    assert child.read(SIZE - P, 5) == b"grown"
    cow.release(ch)
    cow.release(ph)
