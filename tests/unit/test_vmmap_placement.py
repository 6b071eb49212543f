"""vmmap placement and shape: hints, MAP_FIXED replacement, free-range reuse, splits and merges
(with backing objects and offsets), and the coverage queries msync/madvise/mincore rely on."""

import pytest

from lind_async.abi.errno import EINVAL, ENOMEM, GuestError
from lind_async.core.vmmap import Mapping, VmMap

P = 4096


def errno_of(fn: object) -> int:
    with pytest.raises(GuestError) as info:
        fn()  # type: ignore[operator]
    return info.value.errno


def spans(vm: VmMap) -> list[tuple[int, int, int]]:
    return [(m.start // P, m.end // P, m.prot) for m in vm.mappings()]


def test_adjacent_compatible_mappings_merge() -> None:
    vm = VmMap(0, 64 * P)
    a = vm.map_anywhere(2 * P, 3)
    b = vm.map_anywhere(2 * P, 3)
    assert b == a - 2 * P
    assert spans(vm) == [(60, 64, 3)]  # one range, as a Linux VMA
    vm.map_anywhere(P, 1)  # another protection: its own range
    assert spans(vm) == [(59, 60, 1), (60, 64, 3)]
    vm.protect(59 * P, P, 3)  # becomes compatible: merged
    assert spans(vm) == [(59, 64, 3)]


def test_backed_mappings_merge_only_when_offsets_continue() -> None:
    obj, other = object(), object()
    vm = VmMap(0, 64 * P)
    vm.add(Mapping(10 * P, 12 * P, 3, shared=obj, offset=0))
    vm.add(Mapping(12 * P, 13 * P, 3, shared=obj, offset=2 * P))  # continues the object
    vm.add(Mapping(13 * P, 14 * P, 3, shared=obj, offset=9 * P))  # jumps in it
    vm.add(Mapping(14 * P, 15 * P, 3, shared=other, offset=10 * P))
    vm.add(Mapping(15 * P, 16 * P, 3))  # private
    vm.add(Mapping(16 * P, 17 * P, 3, offset=5 * P, source=other))  # private, from a file
    got = [(m.start // P, m.end // P, m.shared is obj, m.offset // P) for m in vm.mappings()]
    assert got == [(10, 13, True, 0), (13, 14, True, 9), (14, 15, False, 10), (15, 16, False, 0),
                   (16, 17, False, 5)]
    assert vm.mappings()[-1].source is other


def test_add_refuses_a_range_in_use() -> None:
    vm = VmMap(8 * P, 64 * P)
    vm.add(Mapping(20 * P, 24 * P, 3))
    with pytest.raises(ValueError):
        vm.add(Mapping(23 * P, 25 * P, 3))
    with pytest.raises(ValueError):
        vm.add(Mapping(4 * P, 5 * P, 3))  # below the break
    with pytest.raises(ValueError):
        vm.add(Mapping(30 * P + 1, 31 * P, 3))


def test_hint_is_used_when_free_else_top_down() -> None:
    vm = VmMap(0, 64 * P)
    vm.set_brk(4 * P)
    assert vm.find_space(2 * P, 10 * P) == 10 * P
    assert vm.find_space(2 * P, 10 * P + 1) == 11 * P  # rounded up, as Linux
    vm.add(Mapping(10 * P, 12 * P, 3))
    assert vm.find_space(2 * P, 11 * P) == 62 * P  # taken: the highest free gap
    assert vm.find_space(P, 2 * P) == 63 * P  # below the break: ignored
    assert vm.find_space(4 * P, 62 * P) == 60 * P  # would pass the limit


def test_freed_middle_is_reused() -> None:
    vm = VmMap(0, 64 * P)
    a = vm.map_anywhere(8 * P, 3)
    vm.map_anywhere(8 * P, 3)  # below it
    vm.unmap(a + 2 * P, 3 * P)
    assert vm.is_free(a + 2 * P, 3 * P) and not vm.is_free(a + P, 3 * P)
    assert vm.map_anywhere(3 * P, 3) == a + 2 * P  # the highest gap that fits
    assert spans(vm) == [(48, 64, 3)]  # and everything merged again
    assert errno_of(lambda: vm.map_anywhere(49 * P, 3)) == ENOMEM
    assert vm.map_anywhere(48 * P, 1) == 0  # exactly what is left


def test_map_fixed_replaces_splits_and_merges() -> None:
    vm = VmMap(0, 64 * P)
    vm.add(Mapping(10 * P, 20 * P, 1))
    vm.map_fixed(12 * P, 2 * P, 3)
    assert spans(vm) == [(10, 12, 1), (12, 14, 3), (14, 20, 1)]
    vm.map_fixed(12 * P, 2 * P, 1)
    assert spans(vm) == [(10, 20, 1)]
    vm.map_fixed(18 * P, 4 * P, 3)  # over the end and past it
    assert spans(vm) == [(10, 18, 1), (18, 22, 3)]


def test_fixed_checks_and_noreplace_overlaps() -> None:
    vm = VmMap(4 * P, 64 * P)
    vm.set_brk(8 * P)
    assert errno_of(lambda: vm.check_fixed(10 * P + 1, P)) == EINVAL
    assert vm.check_fixed(6 * P, P) == P  # over the break: allowed, as Linux
    assert errno_of(lambda: vm.check_fixed(3 * P, P)) == ENOMEM  # the static image
    assert errno_of(lambda: vm.check_fixed(63 * P, 2 * P)) == ENOMEM  # the limit
    assert errno_of(lambda: vm.check_fixed(10 * P, 0)) == EINVAL
    assert vm.check_fixed(10 * P, P + 1) == 2 * P
    vm.add(Mapping(20 * P, 22 * P, 3))
    assert vm.overlaps(21 * P, P) and vm.overlaps(19 * P, 2 * P) and vm.overlaps(2 * P, P)
    assert not vm.overlaps(22 * P, P) and not vm.overlaps(18 * P, 2 * P)


def test_split_keeps_offsets_and_sources() -> None:
    src = object()
    vm = VmMap(0, 64 * P)
    vm.add(Mapping(10 * P, 16 * P, 3, offset=4 * P, source=src))
    released = vm.unmap_pieces(12 * P, 2 * P)
    assert [(m.start // P, m.offset // P, m.source is src) for m in released] == [(12, 6, True)]
    assert [(m.start // P, m.end // P, m.offset // P) for m in vm.mappings()] == [
        (10, 12, 4), (14, 16, 8)]


def test_coverage_queries() -> None:
    vm = VmMap(4 * P, 64 * P)
    vm.set_brk(6 * P)
    vm.add(Mapping(20 * P, 22 * P, 3))
    vm.add(Mapping(22 * P, 24 * P, 1))
    assert vm.covered(0, 6 * P)  # the image and the break count as in use
    vm.unmap(5 * P, P)
    assert not vm.covered(0, 6 * P)  # (unless unmapped)
    assert vm.covered(20 * P, 24 * P)
    assert not vm.covered(19 * P, 24 * P) and not vm.covered(20 * P, 25 * P)
    assert not vm.covered(5 * P, 7 * P)
    pieces = vm.pieces(21 * P, 23 * P)
    assert [(m.start // P, m.end // P, m.prot) for m in pieces] == [(21, 22, 3), (22, 23, 1)]
    assert vm.pieces(30 * P, 40 * P) == []


def test_unmap_and_protect_errors() -> None:
    vm = VmMap(0, 16 * P)
    vm.add(Mapping(8 * P, 10 * P, 3))
    assert errno_of(lambda: vm.unmap(8 * P, 0)) == EINVAL
    assert errno_of(lambda: vm.unmap(8 * P + 5, P)) == EINVAL
    assert vm.unmap(15 * P, 2 * P) == []  # past the limit, inside the 32-bit space: fine
    assert errno_of(lambda: vm.unmap(15 * P, (1 << 32) - 15 * P + 1)) == EINVAL  # past 4 GiB
    assert vm.unmap(12 * P, P) == []  # nothing there: fine
    assert errno_of(lambda: vm.protect(8 * P, 3 * P, 1)) == ENOMEM
    assert spans(vm) == [(8, 10, 3)]  # a failed protect changes nothing
