"""The memory package's pieces on a bytearray-backed memory (no wasm): host_range's bounds and
overflow checks, pointer decoding with hostile counts and lengths, composite views."""

from __future__ import annotations

import ctypes
import struct

import pytest

from lind_async.abi.errno import E2BIG, EFAULT, EINVAL, EMSGSIZE, GuestError
from lind_async.memory import CompositeMemory, GuestMemory, pointers

IOVEC = struct.Struct("<II")


class ByteArrayMemory:
    """A linear memory made of a bytearray (pinned: it cannot be resized while exported)."""

    def __init__(self, n: int) -> None:
        self.data = bytearray(n)
        self._pin = (ctypes.c_ubyte * n).from_buffer(self.data)
        self.base = ctypes.addressof(self._pin)

    def size(self) -> int:
        return len(self.data)


def memory(n: int = 4096) -> tuple[ByteArrayMemory, GuestMemory]:
    raw = ByteArrayMemory(n)
    return raw, GuestMemory(raw, null_page=0)  # these tests are about other bounds


def errno_of(fn: object) -> int:
    with pytest.raises(GuestError) as info:
        fn()  # type: ignore[operator]
    return info.value.errno


# ------------------------------------------------------------------------------ host_range
def test_host_range_is_the_checked_host_address() -> None:
    raw, mem = memory()
    assert mem.host_range(0, 4096) == raw.base
    host = mem.host_range(100, 5)
    ctypes.memmove(host, b"hello", 5)
    assert raw.data[100:105] == b"hello"
    assert mem.host_range(4096, 0) == raw.base + 4096  # empty range at the end


@pytest.mark.parametrize("addr, n", [
    (4096, 1), (4095, 2), (0, 4097), (-1, 1), (0, -1), (-4096, 4096), (1 << 32, 0),
    ((1 << 32) - 1, 2), ((1 << 64) - 1, 1), ((1 << 64) - 8, 16), (8, (1 << 64) - 4),
    (1 << 100, 1), (0, 1 << 100),
])
def test_host_range_refuses_hostile_ranges(addr: int, n: int) -> None:
    _, mem = memory()
    assert errno_of(lambda: mem.host_range(addr, n)) == EFAULT


def test_host_range_sees_memory_grow() -> None:
    class Growing(ByteArrayMemory):
        current = 4096

        def size(self) -> int:
            return self.current

    raw = Growing(8192)
    mem = GuestMemory(raw, null_page=0)
    assert errno_of(lambda: mem.host_range(4096, 16)) == EFAULT
    raw.current = 8192  # the guest ran memory.grow
    assert mem.host_range(4096, 16) == raw.base + 4096


# ------------------------------------------------------------------------------ pointers
def test_pointer_slots() -> None:
    assert pointers.pointer(0x1000) == 0x1000
    assert pointers.pointer(-4) == 0xFFFFFFFC  # sign-extended 32-bit pointer
    assert pointers.pointer(1 << 40) == 1 << 40  # not a 32-bit offset: fails every check
    assert pointers.segment_of((2 << 32) | 0x10) == 2 << 32 and pointers.segment_of(0x10) == 0
    assert pointers.inner(2 << 32, 0) == 0 and pointers.inner(2 << 32, 8) == (2 << 32) | 8


def _iov(mem: GuestMemory, at: int, *entries: tuple[int, int]) -> None:
    for i, (addr, length) in enumerate(entries):
        mem.pack(IOVEC, at + i * IOVEC.size, addr, length)


def test_iovecs_give_views_of_each_buffer() -> None:
    _, mem = memory()
    mem.write(1000, b"abcdef")
    _iov(mem, 64, (1000, 2), (1002, 0), (1003, 3))
    views = pointers.iovecs(mem, 64, 3, limit=1024, too_many=EINVAL, max_total=1 << 20)
    assert [bytes(v) for v in views] == [b"ab", b"", b"def"]
    views[2][:] = b"XYZ"
    assert mem.read(1000, 6) == b"abcXYZ"


@pytest.mark.parametrize("count, errno", [(-1, EMSGSIZE), (1025, EMSGSIZE), (1 << 31, EMSGSIZE)])
def test_iovecs_refuse_hostile_counts_before_reading(count: int, errno: int) -> None:
    _, mem = memory()
    assert errno_of(lambda: pointers.iovecs(
        mem, 0, count, limit=1024, too_many=EMSGSIZE, max_total=1 << 20)) == errno


def test_iovecs_refuse_arrays_and_buffers_outside_memory() -> None:
    _, mem = memory()
    # an array running past the end faults as a whole, before any entry is decoded
    assert errno_of(lambda: pointers.iovec_entries(mem, 4096 - 8, 2)) == EFAULT
    assert errno_of(lambda: pointers.iovec_entries(mem, 1 << 40, 1)) == EFAULT
    _iov(mem, 0, (4000, 200))  # a buffer past the end
    assert errno_of(lambda: pointers.iovecs(
        mem, 0, 1, limit=1024, too_many=EINVAL, max_total=1 << 20)) == EFAULT
    _iov(mem, 0, (0xFFFFFFFF, 2))  # a buffer wrapping the 32-bit space
    assert errno_of(lambda: pointers.iovecs(
        mem, 0, 1, limit=1024, too_many=EINVAL, max_total=1 << 20)) == EFAULT


def test_iovec_lengths_are_capped_in_total() -> None:
    _, mem = memory()
    _iov(mem, 0, (100, 100), (0, 0xFFFFFFFF))
    assert errno_of(lambda: pointers.iovecs(
        mem, 0, 2, limit=1024, too_many=EINVAL, max_total=0x7FFFF000)) == EINVAL
    _iov(mem, 0, *[(100, 600)] * 4)  # each fits, the sum does not
    assert errno_of(lambda: pointers.iovecs(
        mem, 0, 4, limit=1024, too_many=EINVAL, max_total=2000)) == EINVAL


def test_pointer_vectors_stop_at_null_and_at_their_limit() -> None:
    _, mem = memory()
    for i, value in enumerate((10, 20, 30, 0)):
        mem.write_u32(200 + 4 * i, value)
    assert list(pointers.pointer_vector(mem, 200, 8)) == [10, 20, 30]
    assert errno_of(lambda: list(pointers.pointer_vector(mem, 200, 2))) == E2BIG
    mem.fill(0, 4096, 0xFF)  # no NULL anywhere: the end of memory faults
    assert errno_of(lambda: list(pointers.pointer_vector(mem, 4000, 1 << 20))) == EFAULT


# ------------------------------------------------------------------------------ composite
def test_composite_resolves_segments_and_inner_pointers_stay_in_them() -> None:
    _, target = memory()
    _, grate = memory(8192)
    mem = CompositeMemory(target, {2: grate})
    seg = 2 << 32
    grate.write(6000, b"grate data")
    target.write(6000 - 4096, b"target!!!!")  # the same offset in the target must not be read
    _iov(grate, 64, (6000, 5), (6005, 5))
    views = pointers.iovecs(mem, seg | 64, 2, limit=1024, too_many=EINVAL, max_total=1 << 20)
    assert [bytes(v) for v in views] == [b"grate", b" data"]
    grate.write_u32(300, 6000)
    grate.write_u32(304, 0)
    grate.write(6005, b"\0")
    assert [mem.read_cstring(p) for p in pointers.pointer_vector(mem, seg | 300, 4)] == [b"grate"]


def test_composite_host_ranges_and_faults() -> None:
    traw, target = memory()
    graw, grate = memory()
    mem = CompositeMemory(target, {2: grate})
    assert mem.host_range((2 << 32) | 16, 4) == graw.base + 16
    assert mem.host_range(16, 4) == traw.base + 16
    for addr, n in (((2 << 32) | 4093, 4), ((1 << 32) | 0, 1), ((3 << 32) | 0, 1),
                    ((2 << 32) - 1, 2), (-1, 1)):
        assert errno_of(lambda a=addr, k=n: mem.host_range(a, k)) == EFAULT
    # an array crossing the end of a segment does not spill into the next key
    assert errno_of(lambda: pointers.iovec_entries(mem, (2 << 32) | 4092, 2)) == EFAULT
