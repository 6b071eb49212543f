"""Host locks that mirror the lock tables (lind_async/rawposix/host_locks.py), against a real
file and another process holding locks on it: gains, refusals and the undo of a partial gain."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lind_async.core.locks import OFFSET_MAX, READ, UNLOCKED, WRITE
from lind_async.rawposix import host_locks

_FLOCK = struct.Struct("=hhxxxxqqixxxx")
_F_OFD_GETLK = 36

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
kind = fcntl.LOCK_EX if sys.argv[2] == "w" else fcntl.LOCK_SH
fcntl.lockf(fd, kind, int(sys.argv[4]), int(sys.argv[3]))  # len, start
print("held", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[int, tuple[int, int]]]:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 64)
    fd = os.open(path, os.O_RDWR)
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    yield fd, key
    host_locks.sync(key, None, [], UNLOCKED)
    os.close(fd)


def _hold(fd: int, write: bool, start: int, length: int) -> subprocess.Popen[bytes]:
    path = os.readlink(f"/proc/self/fd/{fd}")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path, "w" if write else "r", str(start), str(length)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
    return proc


def _seen(fd: int, start: int, end: int, write: bool) -> int | None:
    """The type of a lock another description of this process sees on the range (or None)."""
    probe = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)
    try:
        length = 0 if end == OFFSET_MAX else end - start
        kind = fcntl.F_WRLCK if write else fcntl.F_RDLCK
        got = fcntl.fcntl(probe, _F_OFD_GETLK, _FLOCK.pack(kind, 0, start, length, 0))
    finally:
        os.close(probe)
    found = _FLOCK.unpack(got)[0]
    return None if found == fcntl.F_UNLCK else found


def test_gains_show_on_the_host_and_falls_take_them_back(target: tuple[int, Any]) -> None:
    fd, key = target
    assert host_locks.sync(key, fd, [(0, 10, READ), (10, OFFSET_MAX, WRITE)], UNLOCKED)
    assert host_locks.held(key) == ([(0, 10, READ), (10, OFFSET_MAX, WRITE)], UNLOCKED)
    assert _seen(fd, 0, 10, write=False) is None  # readers share
    assert _seen(fd, 0, 10, write=True) == fcntl.F_RDLCK
    assert _seen(fd, 1 << 40, (1 << 40) + 1, write=False) == fcntl.F_WRLCK
    assert host_locks.sync(key, None, [(0, 10, READ)], UNLOCKED)  # a fall needs no source
    assert _seen(fd, 10, 20, write=True) is None
    assert host_locks.sync(key, None, [], UNLOCKED)
    assert host_locks.held(key) == ([], UNLOCKED)
    assert _seen(fd, 0, 10, write=True) is None


def test_a_refused_gain_undoes_the_gains_before_it(target: tuple[int, Any]) -> None:
    fd, key = target
    assert host_locks.sync(key, fd, [(0, 5, READ)], UNLOCKED)
    holder = _hold(fd, write=False, start=10, length=2)  # another process reads [10, 12)
    try:
        # [0, 5) READ -> WRITE succeeds first, then [5, 20) WRITE is refused: all undone.
        assert not host_locks.sync(key, fd, [(0, 20, WRITE)], UNLOCKED)
        assert host_locks.held(key) == ([(0, 5, READ)], UNLOCKED)
        assert _seen(fd, 0, 5, write=False) is None
        assert _seen(fd, 0, 5, write=True) == fcntl.F_RDLCK
        assert _seen(fd, 5, 10, write=True) is None
        assert host_locks.sync(key, fd, [(0, 10, WRITE)], UNLOCKED)  # clear of the holder
    finally:
        holder.communicate(b"\n", timeout=30)
    assert host_locks.sync(key, fd, [(0, 20, WRITE)], UNLOCKED)


def test_flock_level_follows_the_union(target: tuple[int, Any]) -> None:
    fd, key = target
    other = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)
    try:
        assert host_locks.sync(key, fd, [], READ)
        fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared with shared
        assert not host_locks.sync(key, fd, [], WRITE)  # the conversion is refused...
        assert host_locks.held(key) == ([], UNLOCKED)  # ...and, as on Linux, loses the lock
        fcntl.flock(other, fcntl.LOCK_UN)
        assert host_locks.sync(key, fd, [], WRITE)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)
        assert host_locks.sync(key, None, [], UNLOCKED)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)
