"""fork's sparse memory copy (memory/copy.py): only touched pages of the used ranges move; a
range outside either memory is EFAULT."""

from __future__ import annotations

import ctypes
import mmap

import pytest

from lind_async.abi.errno import EFAULT, GuestError
from lind_async.core.vmmap import VmMap
from lind_async.memory import GuestMemory, copy
from lind_async.runtime import fork

PAGE = mmap.PAGESIZE


class _Area:
    def __init__(self, m: mmap.mmap) -> None:
        self.map = m
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(m))

    def size(self) -> int:
        return len(self.map)


def _area(n: int) -> tuple[mmap.mmap, GuestMemory]:
    m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return m, GuestMemory(_Area(m))


def test_copies_touched_pages_only() -> None:
    n = 64 * PAGE
    src_map, src = _area(n)
    dst_map, dst = _area(n)
    for page in (0, 1, 7, 40, 63):
        src_map[page * PAGE + 5] = page + 1
    copied = copy.copy_used(src, dst, [(0, 32 * PAGE), (32 * PAGE, n)])
    assert dst_map[:] == src_map[:]
    assert copied < n  # untouched pages were skipped (pagemap readable here)
    assert copied >= 5 * PAGE
    # A range outside the used ones is not copied.
    src_map[50 * PAGE] = 9
    dst2_map, dst2 = _area(n)
    copy.copy_used(src, dst2, [(0, 32 * PAGE)])
    assert dst2_map[50 * PAGE] == 0 and dst2_map[7 * PAGE + 5] == 8


def test_without_pagemap_everything_in_range_is_copied() -> None:
    assert list(copy._touched(None, 4096, 3 * 4096)) == [(4096, 3 * 4096)]


def test_a_range_outside_either_memory_faults() -> None:
    _src_map, src = _area(4 * PAGE)
    _dst_map, dst = _area(2 * PAGE)
    for ranges in ([(0, 3 * PAGE)], [(3 * PAGE, 5 * PAGE)], [((1 << 32) - PAGE, 1 << 32)]):
        with pytest.raises(GuestError) as info:
            copy.copy_used(src, dst, ranges)
        assert info.value.errno == EFAULT


def test_used_ranges_follow_the_vmmap() -> None:
    vm = VmMap(70_000, 1 << 24)
    vm.set_brk(200_000)
    top = vm.map_anywhere(3 * 4096, 3)
    # the static image, then the break's pages (a mapping) and the others
    assert fork.used_ranges(vm) == [(0, 73_728), (73_728, 200_704), (top, top + 3 * 4096)]
