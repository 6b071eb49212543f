"""vmmap: brk grows up, mmap top-down, unmap splits, protections recorded."""

import pytest

from lind_async.abi.errno import EINVAL, ENOMEM, GuestError
from lind_async.core.vmmap import VmMap

P = 4096


def errno_of(fn: object) -> int:
    with pytest.raises(GuestError) as info:
        fn()  # type: ignore[operator]
    return info.value.errno


def brk_to(vm: VmMap, new: int) -> int:
    assert vm.set_brk(new) == []
    return vm.brk


def test_brk_moves_within_free_space_only() -> None:
    vm = VmMap(heap_start=10 * P + 100, limit=100 * P)
    assert vm.brk == vm.heap_start == 11 * P  # page aligned, as Linux's initial break
    assert brk_to(vm, 20 * P) == 20 * P
    assert brk_to(vm, 5 * P) == 20 * P  # below the heap start: refused, unchanged
    top = vm.map_anywhere(10 * P, 3)
    assert top == 90 * P
    assert brk_to(vm, 91 * P) == 20 * P  # would overlap the mapping
    assert brk_to(vm, 90 * P) == 20 * P  # no guard page left below the mapping
    assert brk_to(vm, 89 * P - 5) == 89 * P - 5  # not page aligned: kept as asked
    assert brk_to(vm, 101 * P) == 89 * P - 5  # past the limit


def test_brk_pages_are_a_mapping() -> None:
    vm = VmMap(heap_start=4 * P, limit=64 * P)
    brk_to(vm, 10 * P + 1)
    assert [(m.start, m.end, m.prot) for m in vm.mappings()] == [(4 * P, 11 * P, 3)]
    vm.map_fixed(4 * P, P, 0)  # mallocng's guard page below the break
    assert vm.prot_at(4 * P) == 0 and vm.prot_at(5 * P) == 3
    vm.protect(6 * P, P, 1)
    assert errno_of(lambda: vm.protect(10 * P, 2 * P, 1)) == ENOMEM  # past the break
    vm.unmap(7 * P, P)  # a hole in the heap: mprotect there is ENOMEM, as Linux
    assert errno_of(lambda: vm.protect(7 * P, P, 3)) == ENOMEM
    assert vm.find_space(P) == 63 * P and vm.find_space(P, 7 * P) == 7 * P  # (a hint may)
    released = vm.set_brk(6 * P)  # a shrink unmaps whatever lies above the new break
    assert [(m.start, m.end) for m in released] == [(6 * P, 7 * P), (8 * P, 11 * P)]
    assert vm.brk == 6 * P and vm.mappings()[-1].end == 6 * P
    assert brk_to(vm, 8 * P) == 8 * P and vm.prot_at(7 * P) == 3  # grown again, read-write


def test_mmap_top_down_and_reuses_freed_ranges() -> None:
    vm = VmMap(0, 64 * P)
    a = vm.map_anywhere(P, 3)
    b = vm.map_anywhere(2 * P + 1, 3)  # rounds up to 3 pages
    assert (a, b) == (63 * P, 60 * P)
    assert vm.unmap(a, P) == [(a, a + P)]
    assert vm.map_anywhere(P, 1) == a


def test_unmap_splits_a_mapping() -> None:
    vm = VmMap(0, 64 * P)
    start = vm.map_anywhere(8 * P, 3)
    released = vm.unmap(start + 2 * P, 2 * P)
    assert released == [(start + 2 * P, start + 4 * P)]
    spans = [(m.start, m.end) for m in vm.mappings()]
    assert spans == [(start, start + 2 * P), (start + 4 * P, start + 8 * P)]


def test_out_of_memory_and_bad_arguments() -> None:
    vm = VmMap(0, 16 * P)
    brk_to(vm, 8 * P)
    assert errno_of(lambda: vm.map_anywhere(9 * P, 3)) == ENOMEM
    assert errno_of(lambda: vm.map_anywhere(0, 3)) == EINVAL
    assert errno_of(lambda: vm.unmap(P + 1, P)) == EINVAL
    assert errno_of(lambda: vm.map_fixed(P + 1, P, 3)) == EINVAL


def test_map_fixed_replaces_existing_pages() -> None:
    vm = VmMap(0, 32 * P)
    a = vm.map_anywhere(4 * P, 1)
    vm.map_fixed(a + P, P, 3)
    assert vm.prot_at(a) == 1 and vm.prot_at(a + P) == 3 and vm.prot_at(a + 2 * P) == 1
    assert vm.prot_at(0) is None


def test_protect_records_and_requires_mapped_pages() -> None:
    vm = VmMap(0, 32 * P)
    a = vm.map_anywhere(4 * P, 3)
    vm.protect(a + P, P, 1)
    assert [m.prot for m in vm.mappings()] == [3, 1, 3]
    assert errno_of(lambda: vm.protect(a - 4 * P, P, 1)) == ENOMEM


def test_shared_backing_follows_splits() -> None:
    backing = object()
    vm = VmMap(0, 64 * P)
    a = vm.map_anywhere(8 * P, 3)
    vm.share(a, backing)
    assert errno_of(lambda: vm.map_fixed(a + 1, P, 3)) == EINVAL
    vm.protect(a + P, P, 1)  # split in three: offsets follow the pieces
    got = vm.unmap_pieces(a + 4 * P, 2 * P)  # and a hole in the last one
    assert [(m.start - a, m.end - a, m.shared is backing, m.offset) for m in got] == [
        (4 * P, 6 * P, True, 4 * P)]
    pieces = [(m.start - a, m.end - a, m.prot, m.shared is backing, m.offset)
              for m in vm.mappings()]
    assert pieces == [(0, P, 3, True, 0), (P, 2 * P, 1, True, P), (2 * P, 4 * P, 3, True, 2 * P),
                      (6 * P, 8 * P, 3, True, 6 * P)]
    at = vm.mapping_at(a + 6 * P + 12)
    assert at is not None and at.offset == 6 * P and at.shared is backing
    assert vm.mapping_at(a + 5 * P) is None
    plain = vm.mapping_at(vm.map_anywhere(P, 3))
    assert plain is not None and plain.shared is None
    with pytest.raises(ValueError):
        vm.share(a + P // 2, backing)
    assert vm.unmap(a, P) == [(a, a + P)]  # the plain-range form still works


def test_shared_objects_are_not_duplicated_by_a_vmmap_copy() -> None:
    import copy

    from lind_async.rawposix import shm

    obj = shm.SharedAnon(P)
    try:
        vm = VmMap(0, 16 * P)
        vm.share(vm.map_anywhere(P, 3), obj)
        child = copy.deepcopy(vm)
        assert child.mappings()[0].shared is obj
    finally:
        obj.attach()
        obj.detach()
    assert obj.fd == -1


def test_fork_copy_is_independent_and_shares_backing_objects() -> None:
    backing = object()
    vm = VmMap(3 * P, 64 * P)
    vm.set_brk(5 * P)
    a = vm.map_anywhere(4 * P, 3)
    vm.share(a, backing)
    b = vm.map_anywhere(2 * P, 1)
    child = vm.fork()
    assert (child.heap_start, child.brk, child.limit) == (vm.heap_start, vm.brk, vm.limit)
    assert [(m.start, m.end, m.prot, m.offset) for m in child.mappings()] == [
        (m.start, m.end, m.prot, m.offset) for m in vm.mappings()]
    assert child.mapping_at(a) is not vm.mapping_at(a)
    assert getattr(child.mapping_at(a), "shared", None) is backing
    child.unmap(b, 2 * P)
    child.set_brk(3 * P)
    assert vm.mapping_at(b) is not None and vm.brk == 5 * P
