"""MAP_SHARED anonymous objects on plain host memory (rawposix/shm.py): two "linear memories"
mapping one memfd see each other's writes; unmapping gives private zero pages back and closes the
memfd with its last user; shared futex keys follow the object, not the address."""

from __future__ import annotations

import copy
import ctypes
import os
from collections.abc import Iterator

import pytest

from lind_async.abi.errno import EINVAL, GuestError
from lind_async.core.vmmap import VmMap
from lind_async.memory import GuestMemory
from lind_async.rawposix import shm

P = 4096
SIZE = 64 * P

_munmap = ctypes.CDLL(None).munmap
_munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)


@pytest.fixture
def memories() -> Iterator[tuple[int, int]]:
    bases = []
    for _ in range(2):
        base = shm._mmap(None, SIZE, 3, 0x22, -1, 0)  # MAP_PRIVATE|MAP_ANONYMOUS
        assert base not in (None, shm._MAP_FAILED)
        bases.append(base)
    yield bases[0], bases[1]
    for base in bases:
        _munmap(base, SIZE)


class _Area:
    """A host mapping posing as a linear memory (what GuestMemory needs of one)."""

    def __init__(self, base: int) -> None:
        self.base = base

    def size(self) -> int:
        return SIZE


def _mem(base: int) -> GuestMemory:
    return GuestMemory(_Area(base))


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_two_memories_share_one_object(memories: tuple[int, int]) -> None:
    a, b = memories
    fds = _fds()
    parent = VmMap(0, SIZE)
    start = parent.map_anywhere(4 * P, 3)
    ctypes.memset(a + start, 7, 4 * P)  # private bytes there before: replaced by zeros
    obj = shm.create(_mem(a), start, start + 4 * P)
    parent.share(start, obj)
    assert ctypes.string_at(a + start, 4 * P) == bytes(4 * P)
    assert _fds() == fds + 1 and obj.users == 1

    child = copy.deepcopy(parent)  # what fork does
    shm.map_all(child, _mem(b))
    assert obj.users == 2
    ctypes.memmove(a + start + P, b"from a", 6)
    ctypes.memmove(b + start + 2 * P, b"from b", 6)
    assert ctypes.string_at(b + start + P, 6) == b"from a"
    assert ctypes.string_at(a + start + 2 * P, 6) == b"from b"

    # Shared futex keys: the same object and offset in both, whatever the memory.
    assert shm.futex_key(parent, start + P + 8) == shm.futex_key(child, start + P + 8)
    assert shm.futex_key(parent, start + P + 8) == (-obj.ident, P + 8)
    assert shm.futex_key(parent, 0) is None

    # The child unmaps the middle: private zeros there in b, a still shares it, both users stay.
    shm.unmapped(_mem(b), child, child.unmap_pieces(start + P, 2 * P))
    assert ctypes.string_at(b + start + P, 2 * P) == bytes(2 * P)
    ctypes.memmove(b + start + P, b"private", 7)
    assert ctypes.string_at(a + start + P, 6) == b"from a"
    assert obj.users == 2
    ctypes.memmove(a + start + 3 * P, b"still", 5)
    assert ctypes.string_at(b + start + 3 * P, 5) == b"still"

    shm.unmapped(_mem(b), child, child.unmap_pieces(start, 4 * P))  # the child's last pieces
    assert obj.users == 1 and obj.fd >= 0
    shm.release_all(parent)  # the parent exits
    assert obj.users == 0 and obj.fd == -1 and _fds() == fds
    assert parent.mappings() == []
    # a's pages are still the (now unnamed) object's until the memory goes; the data survives.
    assert ctypes.string_at(a + start + 3 * P, 5) == b"still"


def test_restore_private_gives_zero_pages(memories: tuple[int, int]) -> None:
    a, _ = memories
    vm = VmMap(0, SIZE)
    start = vm.map_anywhere(2 * P, 3)
    vm.share(start, shm.create(_mem(a), start, start + 2 * P))
    ctypes.memset(a + start, 1, 2 * P)
    shm.unmapped(_mem(a), vm, vm.unmap_pieces(start, 2 * P))
    assert ctypes.string_at(a + start, 2 * P) == bytes(2 * P)
    ctypes.memset(a + start, 2, 2 * P)  # writable as before
    assert ctypes.string_at(a + start, 1) == b"\x02"


def test_unaligned_ranges_are_refused(memories: tuple[int, int]) -> None:
    a, _ = memories
    with pytest.raises(GuestError) as info:
        shm.create(_mem(a), 100, 100 + P)
    assert info.value.errno == EINVAL
