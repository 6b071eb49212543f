"""Packing of the kernel structs RawPOSIX reads and writes in guest memory.

Every layout comes from :mod:`lind_async.abi.layouts`, the one description of wasm32 structs that
lind-musl's C headers are checked against (``tests/toolchain/test_layouts.py``). Hot paths use a
precompiled ``struct.Struct`` of the layout's format with positional fields.
"""

from __future__ import annotations

import os
import struct

from lind_async.abi import layouts as L
from lind_async.abi.errno import EINVAL, GuestError
from lind_async.memory import GuestMemory
from lind_async.rawposix.files import DirEntry

_NS = 1_000_000_000
_STAT = struct.Struct(L.STAT.fmt)
_TIMESPEC = struct.Struct(L.TIMESPEC.fmt)  # tv_sec, tv_nsec, padding
_TIMEVAL = struct.Struct(L.TIMEVAL.fmt)
_DIRENT_HEAD = struct.Struct(L.LINUX_DIRENT64.fmt)
IOVEC = struct.Struct(L.IOVEC.fmt)
WINSIZE = struct.Struct(L.WINSIZE.fmt)
SIGSET = struct.Struct(L.KERNEL_SIGSET.fmt)
K_SIGACTION = struct.Struct(L.K_SIGACTION.fmt)  # handler, flags, mask, unused
UTSNAME_FIELD = L.UTSNAME.field("sysname").size

assert [f.name for f in L.STAT.fields if not f.code.endswith("x")][:13] == [
    "st_dev", "st_ino", "st_nlink", "__st_nlink_hi", "st_mode", "st_uid", "st_gid", "__pad0",
    "st_rdev", "st_size", "st_blksize", "__st_blksize_hi", "st_blocks",
], "write_stat packs positionally in this order"  # fmt: skip


def _ns(st: os.stat_result, name: str) -> int:
    value = getattr(st, name + "_ns", None)
    if value is None:  # a stat_result built from a tuple: missing extras read as None
        return int((getattr(st, name, 0) or 0) * _NS)
    return int(value)


def write_stat(mem: GuestMemory, addr: int, st: os.stat_result) -> None:
    atime, mtime, ctime = _ns(st, "st_atime"), _ns(st, "st_mtime"), _ns(st, "st_ctime")
    mem.pack(
        _STAT,
        addr,
        st.st_dev,
        st.st_ino,
        st.st_nlink & 0xFFFFFFFF,
        0,
        st.st_mode,
        st.st_uid,
        st.st_gid,
        0,
        getattr(st, "st_rdev", 0) or 0,
        st.st_size,
        getattr(st, "st_blksize", 4096) or 4096,
        0,
        getattr(st, "st_blocks", 0) or 0,
        atime // _NS,
        atime % _NS,
        0,
        mtime // _NS,
        mtime % _NS,
        0,
        ctime // _NS,
        ctime % _NS,
        0,
        b"",
    )


def write_timespec(mem: GuestMemory, addr: int, ns: int) -> None:
    mem.pack(_TIMESPEC, addr, ns // _NS, ns % _NS, 0)


def write_timeval(mem: GuestMemory, addr: int, ns: int) -> None:
    mem.pack(_TIMEVAL, addr, ns // _NS, (ns % _NS) // 1000)


def read_timespec(mem: GuestMemory, addr: int) -> int:
    """A relative or absolute ``struct timespec`` as nanoseconds (``EINVAL`` if malformed)."""
    sec, nsec, _pad = mem.unpack(_TIMESPEC, addr)
    if sec < 0 or not 0 <= nsec < _NS:
        raise GuestError(EINVAL)
    return sec * _NS + nsec


def dirent64(entry: DirEntry, next_offset: int) -> bytes:
    """One ``struct linux_dirent64`` record, 8-byte aligned."""
    name = entry.name + b"\0"
    reclen = (_DIRENT_HEAD.size + len(name) + 7) & ~7
    head = _DIRENT_HEAD.pack(entry.inode, next_offset, reclen, entry.dtype, b"")
    return head + name + bytes(reclen - _DIRENT_HEAD.size - len(name))
