"""Packing of the kernel structs RawPOSIX writes into guest memory (wasm32 layouts).

The layouts themselves are described once, in :mod:`lind_async.abi.layouts`, which the C headers
of lind-musl match (checked by a test that compiles ``sizeof``/``offsetof`` probes).
"""

from __future__ import annotations

import os
import struct

from lind_async.abi.errno import EINVAL, GuestError
from lind_async.memory import GuestMemory
from lind_async.rawposix.files import DirEntry

# Linux x86_64 kernel struct stat (144 bytes).
_STAT = struct.Struct("<QQQIIIIQqqqqqqqqq24x")
_TIMESPEC_W = struct.Struct("<qq")  # tv_sec, tv_nsec (a 32-bit long + zero padding on wasm32)
_TIMESPEC_R = struct.Struct("<qi4x")
_TIMEVAL = struct.Struct("<qq")  # tv_sec, tv_usec (suseconds_t is 64-bit in musl)
_DIRENT_HEAD = struct.Struct("<QqHB")  # d_ino, d_off, d_reclen, d_type, then d_name
_NS = 1_000_000_000


def _ns(st: os.stat_result, name: str) -> int:
    value = getattr(st, name + "_ns", None)
    if value is None:
        return int(getattr(st, name, 0) * _NS)
    return int(value)


def write_stat(mem: GuestMemory, addr: int, st: os.stat_result) -> None:
    atime, mtime, ctime = _ns(st, "st_atime"), _ns(st, "st_mtime"), _ns(st, "st_ctime")
    mem.pack(
        _STAT,
        addr,
        st.st_dev,
        st.st_ino,
        st.st_nlink,
        st.st_mode,
        st.st_uid,
        st.st_gid,
        0,
        getattr(st, "st_rdev", 0),
        st.st_size,
        getattr(st, "st_blksize", 4096),
        getattr(st, "st_blocks", 0),
        atime // _NS,
        atime % _NS,
        mtime // _NS,
        mtime % _NS,
        ctime // _NS,
        ctime % _NS,
    )


def write_timespec(mem: GuestMemory, addr: int, ns: int) -> None:
    mem.pack(_TIMESPEC_W, addr, ns // _NS, ns % _NS)


def write_timeval(mem: GuestMemory, addr: int, ns: int) -> None:
    mem.pack(_TIMEVAL, addr, ns // _NS, (ns % _NS) // 1000)


def read_timespec(mem: GuestMemory, addr: int) -> int:
    """A relative or absolute ``struct timespec`` as nanoseconds (``EINVAL`` if malformed)."""
    sec, nsec = mem.unpack(_TIMESPEC_R, addr)
    if sec < 0 or not 0 <= nsec < _NS:
        raise GuestError(EINVAL)
    return sec * _NS + nsec


def dirent64(entry: DirEntry, next_offset: int) -> bytes:
    """One ``struct linux_dirent64`` record, 8-byte aligned."""
    name = entry.name + b"\0"
    reclen = (_DIRENT_HEAD.size + len(name) + 7) & ~7
    head = _DIRENT_HEAD.pack(entry.inode, next_offset, reclen, entry.dtype)
    return head + name + bytes(reclen - _DIRENT_HEAD.size - len(name))
