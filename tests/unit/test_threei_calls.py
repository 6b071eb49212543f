"""3i call plumbing without wasm: composite memory segments, in-flight authority."""

import ctypes

import pytest

from lind_async.abi.errno import EFAULT, GuestError
from lind_async.memory import CompositeMemory, GuestMemory
from lind_async.threei.authority import InFlight


class Buffer:
    def __init__(self, size: int) -> None:
        self.array = (ctypes.c_ubyte * size)()
        self.n = size

    @property
    def base(self) -> int:
        return ctypes.addressof(self.array)

    def size(self) -> int:
        return self.n


def test_segments_route_addresses_to_their_owner() -> None:
    target, grate = GuestMemory(Buffer(4096), null_page=0), GuestMemory(Buffer(8192), null_page=0)
    mem = CompositeMemory(target, {2: grate})
    mem.write(100, b"target")
    mem.write((2 << 32) | 100, b"grate!")
    assert target.read(100, 6) == b"target" and grate.read(100, 6) == b"grate!"
    grate.write(5000, b"far\0")
    assert mem.read_cstring((2 << 32) | 5000) == b"far"
    assert mem.size == 4096
    assert mem.host_range((2 << 32) | 100, 6) == grate.host_range(100, 6)
    assert mem.host_range(100, 6) == target.host_range(100, 6)


def test_segments_keep_bounds_and_unknown_segments_fault() -> None:
    mem = CompositeMemory(
        GuestMemory(Buffer(4096), null_page=0), {2: GuestMemory(Buffer(4096), null_page=0)}
    )
    for addr in ((2 << 32) | 4095, (1 << 32) | 0, (3 << 32) | 0, (4 << 32) | 0, 4096):
        with pytest.raises(GuestError) as info:
            mem.read(addr, 2)
        assert info.value.errno == EFAULT


def test_in_flight_counts_nest_and_clear() -> None:
    flights = InFlight()
    flights.enter(7, 3)
    flights.enter(7, 3)
    flights.enter(8, 3)
    assert flights.through(7, 3) and flights.grates_serving(3) == {7, 8}
    flights.leave(7, 3)
    assert flights.through(7, 3)
    flights.leave(7, 3)
    assert not flights.through(7, 3) and flights.grates_serving(3) == {8}
