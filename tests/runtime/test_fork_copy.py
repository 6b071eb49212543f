"""fork's sparse memory copy (runtime/fork.py): only touched pages of the used ranges move."""

from __future__ import annotations

import ctypes
import mmap

from lind_async.core.vmmap import VmMap
from lind_async.runtime import fork

PAGE = mmap.PAGESIZE


def _area(n: int) -> tuple[mmap.mmap, int]:
    m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return m, ctypes.addressof(ctypes.c_char.from_buffer(m))


def test_copies_touched_pages_only() -> None:
    n = 64 * PAGE
    src_map, src = _area(n)
    dst_map, dst = _area(n)
    for page in (0, 1, 7, 40, 63):
        src_map[page * PAGE + 5] = page + 1
    copied = fork.copy_memory(src, dst, [(0, 32 * PAGE), (32 * PAGE, n)])
    assert dst_map[:] == src_map[:]
    assert copied < n  # untouched pages were skipped (pagemap readable here)
    assert copied >= 5 * PAGE
    # A range outside the used ones is not copied.
    src_map[50 * PAGE] = 9
    dst2_map, dst2 = _area(n)
    fork.copy_memory(src, dst2, [(0, 32 * PAGE)])
    assert dst2_map[50 * PAGE] == 0 and dst2_map[7 * PAGE + 5] == 8


def test_without_pagemap_everything_in_range_is_copied() -> None:
    assert list(fork._touched(None, 4096, 3 * 4096)) == [(4096, 3 * 4096)]


def test_used_ranges_follow_the_vmmap() -> None:
    vm = VmMap(70_000, 1 << 24)
    vm.set_brk(200_000)
    top = vm.map_anywhere(3 * 4096, 3)
    # the static image, then the break's pages (a mapping) and the others
    assert fork.used_ranges(vm) == [(0, 73_728), (73_728, 200_704), (top, top + 3 * 4096)]
