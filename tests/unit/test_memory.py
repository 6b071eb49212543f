"""Guest memory accessor: bounds, wrap-around, strings."""

import ctypes
import struct

import pytest

from lind_async.abi.errno import EFAULT, ENAMETOOLONG, GuestError
from lind_async.memory import GuestMemory, pointer
from lind_async.memory.access import NULL_PAGE


class FakeMemory:
    def __init__(self, size: int) -> None:
        self.buffer = (ctypes.c_ubyte * (1 << 20))()
        self.current = size

    @property
    def base(self) -> int:
        return ctypes.addressof(self.buffer)

    def size(self) -> int:
        return self.current


def errno_of(fn: object) -> int:
    with pytest.raises(GuestError) as info:
        fn()  # type: ignore[operator]
    return info.value.errno


def test_bounds_are_exact() -> None:
    mem = GuestMemory(FakeMemory(8192))
    mem.write(8186, b"abcdef")
    assert mem.read(8186, 6) == b"abcdef"
    assert errno_of(lambda: mem.read(8187, 6)) == EFAULT
    assert errno_of(lambda: mem.read(-1, 1)) == EFAULT
    assert errno_of(lambda: mem.read(4096, -1)) == EFAULT
    assert mem.read(8192, 0) == b""


def test_the_null_page_is_efault_but_empty_ranges_are_not() -> None:
    """Page 0 is never mapped on Linux: a buffer in it is EFAULT (NULL_PAGE bytes), an empty
    range is not, and the runtime's own host addresses are not limited by it."""
    mem = GuestMemory(FakeMemory(8192))
    assert NULL_PAGE == 4096
    for addr in (0, 1, 4095):
        assert errno_of(lambda a=addr: mem.read(a, 1)) == EFAULT
        assert errno_of(lambda a=addr: mem.write(a, b"x")) == EFAULT
        assert errno_of(lambda a=addr: mem.read_cstring(a)) == EFAULT
    assert errno_of(lambda: mem.read(4095, 2)) == EFAULT  # straddles the end of the page
    assert mem.read(0, 0) == b"" and mem.read(4096, 1) == b"\0"
    mem.check(0, 0)
    assert mem.host_range(0, 16) == mem.host_range(4096, 1) - 4096


@pytest.mark.parametrize(
    ("addr", "length"),
    [(0xFFFFFFF0, 100), (0xFFFFFFFF, 2), (1 << 32, 0), ((1 << 64) - 16, 32), (16, (1 << 64) - 8)],
)
def test_no_wrap_around_at_2_32_or_2_64(addr: int, length: int) -> None:
    mem = GuestMemory(FakeMemory(8192))
    assert errno_of(lambda: mem.check(addr, length)) == EFAULT


def test_pointer_decoding_accepts_sign_and_zero_extension() -> None:
    assert pointer(0x1000) == 0x1000
    assert pointer(-16) == 0xFFFFFFF0
    assert pointer(0xFFFFFFF0) == 0xFFFFFFF0
    assert pointer(1 << 40) == 1 << 40  # not a wasm32 pointer: fails any check


def test_growth_is_seen_after_a_miss() -> None:
    fake = FakeMemory(8192)
    mem = GuestMemory(fake)
    assert errno_of(lambda: mem.read(9000, 4)) == EFAULT
    fake.current = 12288
    assert mem.read(9000, 4) == bytes(4)


def test_strings_stop_at_nul_limit_and_end_of_memory() -> None:
    mem = GuestMemory(FakeMemory(8192))
    mem.write(4196, b"hello\0world")
    assert mem.read_cstring(4196) == b"hello"
    mem.write(4296, b"x" * 50)
    assert errno_of(lambda: mem.read_cstring(4296, max_len=10)) == ENAMETOOLONG
    mem.write(8186, b"abcdef")  # no NUL before the end of memory
    assert errno_of(lambda: mem.read_cstring(8186)) == EFAULT
    assert errno_of(lambda: mem.read_cstring(8192)) == EFAULT


def test_struct_access_and_slices_are_zero_copy() -> None:
    fake = FakeMemory(8192)
    mem = GuestMemory(fake)
    mem.pack(struct.Struct("<IQ"), 4104, 7, 1 << 40)
    assert mem.unpack(struct.Struct("<IQ"), 4104) == (7, 1 << 40)
    view = mem.slice(4160, 4)
    view[:] = b"WXYZ"
    assert bytes(fake.buffer[4160:4164]) == b"WXYZ"
    mem.fill(4160, 4, 0x41)
    assert mem.read(4160, 4) == b"AAAA"
    assert errno_of(lambda: mem.write_u32(8190, 1)) == EFAULT
