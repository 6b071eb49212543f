"""Grates decode iovec arrays through ``memory.pointers``, as RawPOSIX does: MemFS's readv/writev
fail as RawPOSIX's would (``EINVAL`` for a count outside ``0..IOV_MAX`` or lengths past
``MAX_RW``, ``EFAULT`` for memory outside), and strace shows such an array as its pointer."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

import pytest

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EFAULT, EINVAL, GuestError
from lind_async.grates.memfs import MemFS
from lind_async.grates.strace_decode import _shown
from lind_async.memory import GuestMemory
from lind_async.rawposix.io import IOV_MAX, MAX_RW
from lind_async.threei.python_grates import Call, Grate
from tests.unit.rawposix.fake import HostMemory

SIZE = 1 << 20
ARRAY, DATA = 0x1000, 0x2000


@pytest.fixture
def mem() -> GuestMemory:
    return GuestMemory(HostMemory(SIZE))


def _call(mem: GuestMemory, number: int, iov: int, count: int) -> Call:
    cage = SimpleNamespace(cage_id=3, status=None, mem=mem)
    mv: Any = SimpleNamespace(cages={3: cage})
    return Call(Grate(), mv, cage, number, (1, iov, count & 0xFFFFFFFF, 0, 0, 0),  # type: ignore[arg-type]
                (3,) * 6)


def _iov(mem: GuestMemory, *entries: tuple[int, int]) -> None:
    for k, (base, length) in enumerate(entries):
        mem.write(ARRAY + 8 * k, struct.pack("<II", base, length))


def _memfs_errno(mem: GuestMemory, iov: int, count: int) -> int:
    with pytest.raises(GuestError) as raised:
        MemFS()._iovecs(_call(mem, nr.SYS_readv, iov, count))
    return raised.value.errno


def test_memfs_views_of_the_buffers(mem: GuestMemory) -> None:
    mem.write(DATA, b"abcdef")
    _iov(mem, (DATA, 3), (0, 0), (DATA + 3, 3))
    views = MemFS()._iovecs(_call(mem, nr.SYS_writev, ARRAY, 3))
    assert [bytes(v) for v in views] == [b"abc", b"", b"def"]


def test_memfs_hostile_iovecs_fail_as_rawposix(mem: GuestMemory) -> None:
    assert _memfs_errno(mem, ARRAY, -1) == EINVAL
    assert _memfs_errno(mem, ARRAY, IOV_MAX + 1) == EINVAL
    assert _memfs_errno(mem, SIZE - 8, 2) == EFAULT  # the array runs out of memory
    _iov(mem, (SIZE - 2, 4))
    assert _memfs_errno(mem, ARRAY, 1) == EFAULT  # a buffer does
    _iov(mem, (DATA, 0), (DATA, MAX_RW + 1))
    assert _memfs_errno(mem, ARRAY, 2) == EINVAL  # past MAX_RW (before the buffer is checked)


def test_strace_shows_iovecs(mem: GuestMemory) -> None:
    mem.write(DATA, b"abc")
    _iov(mem, (DATA, 3), (0, 0))
    shown = _shown(_call(mem, nr.SYS_writev, ARRAY, 2), 1, "iiov", None)
    assert shown == '[{iov_base="abc", iov_len=3}, {iov_base=NULL, iov_len=0}]'
    assert _shown(_call(mem, nr.SYS_writev, SIZE + 64, 0), 1, "iiov", None) == "[]"


def test_strace_shows_a_hostile_array_as_its_pointer(mem: GuestMemory) -> None:
    for iov, count in ((ARRAY, -1), (ARRAY, IOV_MAX + 1), (SIZE - 8, 2)):
        assert _shown(_call(mem, nr.SYS_writev, iov, count), 1, "iiov", None) == hex(iov)
