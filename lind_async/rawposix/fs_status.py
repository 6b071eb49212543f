"""RawPOSIX file-status family: ``statfs``, ``fstatfs`` and ``statx`` (``stat``/``fstat``/
``newfstatat`` are in ``fs.py``), written into guest memory in Linux's x86_64 layouts.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, GuestError
from lind_async.rawposix import confine
from lind_async.rawposix.args import i32, pointer, u32
from lind_async.rawposix.fs import _path, _stat_path, at_path
from lind_async.rawposix.fs_meta import _cwd_path, _file, _host_fd, _opened
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_STATFS = struct.Struct(L.STATFS.fmt)
_STATX = struct.Struct(L.STATX.fmt)
_NS = 1_000_000_000


# -- filesystem and file status -------------------------------------------------------------------
def _write_statfs(cage: CageView, addr: int, host: tuple[int, ...]) -> None:
    f_type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen, frsize, flags = host[:11]
    cage.mem.write(
        addr,
        L.STATFS.pack(
            f_type=f_type & 0xFFFFFFFF,
            f_bsize=bsize & 0xFFFFFFFF,
            f_blocks=blocks,
            f_bfree=bfree,
            f_bavail=bavail,
            f_files=files,
            f_ffree=ffree,
            f_fsid=struct.pack("<q", fsid),
            f_namelen=namelen & 0xFFFFFFFF,
            f_frsize=frsize & 0xFFFFFFFF,
            f_flags=flags & 0xFFFFFFFF,
        ),
    )


def sys_statfs(cage: CageView, path: int, buf: int, *_: int) -> int:
    addr = pointer(buf)
    cage.mem.check(addr, L.STATFS.size)
    with _opened(cage, _cwd_path(cage, path), None) as name:
        fd = os.open(name, os.O_PATH | os.O_CLOEXEC)
        try:
            _write_statfs(cage, addr, confine.fstatfs(fd))
        finally:
            os.close(fd)
    return 0


def sys_fstatfs(cage: CageView, fd: int, buf: int, *_: int) -> int:
    addr = pointer(buf)
    cage.mem.check(addr, L.STATFS.size)
    host = _host_fd(_file(cage, fd))
    if host is None:
        # An in-process object (pipe…): Linux reports pipefs; report the root's filesystem.
        host = cage.world.root.fd
    _write_statfs(cage, addr, confine.fstatfs(host))
    return 0


def sys_statx(
    cage: CageView, dirfd: int, path: int, flags: int, mask: int, buf: int, *_: int,
) -> int:
    at_flags = i32(flags)
    if at_flags & ~(F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH | 0x800 | F.AT_STATX_SYNC_TYPE):
        raise GuestError(EINVAL)
    if at_flags & F.AT_STATX_SYNC_TYPE == F.AT_STATX_SYNC_TYPE or u32(mask) & 0x80000000:
        raise GuestError(EINVAL)
    addr = pointer(buf)
    cage.mem.check(addr, L.STATX.size)
    raw = _path(cage, path)
    if not raw and at_flags & F.AT_EMPTY_PATH:
        st = _file(cage, dirfd).stat()
    else:
        target = at_path(cage, dirfd, raw)
        st = _stat_path(cage, target, follow=not at_flags & F.AT_SYMLINK_NOFOLLOW)
    write_statx(cage, addr, st)
    return 0


def _ns(st: os.stat_result, name: str) -> int:
    value = getattr(st, name + "_ns", None)
    if value is None:
        return int((getattr(st, name, 0) or 0) * _NS)
    return int(value)


def write_statx(cage: CageView, addr: int, st: os.stat_result) -> None:
    atime, mtime, ctime = _ns(st, "st_atime"), _ns(st, "st_mtime"), _ns(st, "st_ctime")
    rdev = getattr(st, "st_rdev", 0) or 0
    cage.mem.write(
        addr,
        L.STATX.pack(
            **{
                "stx_mask": F.STATX_BASIC_STATS,
                "stx_blksize": getattr(st, "st_blksize", 4096) or 4096,
                "stx_nlink": st.st_nlink & 0xFFFFFFFF,
                "stx_uid": st.st_uid & 0xFFFFFFFF,
                "stx_gid": st.st_gid & 0xFFFFFFFF,
                "stx_mode": st.st_mode & 0xFFFF,
                "stx_ino": st.st_ino,
                "stx_size": st.st_size,
                "stx_blocks": getattr(st, "st_blocks", 0) or 0,
                "stx_atime.tv_sec": atime // _NS,
                "stx_atime.tv_nsec": atime % _NS,
                "stx_ctime.tv_sec": ctime // _NS,
                "stx_ctime.tv_nsec": ctime % _NS,
                "stx_mtime.tv_sec": mtime // _NS,
                "stx_mtime.tv_nsec": mtime % _NS,
                "stx_rdev_major": os.major(rdev),
                "stx_rdev_minor": os.minor(rdev),
                "stx_dev_major": os.major(st.st_dev),
                "stx_dev_minor": os.minor(st.st_dev),
            }
        ),
    )


ROWS: list[Row] = [
    (nr.SYS_statfs, sys_statfs, Support.FULL, ""),
    (nr.SYS_fstatfs, sys_fstatfs, Support.FULL, "in-process kinds report the root's fs"),
    (nr.SYS_statx, sys_statx, Support.PARTIAL, "STATX_BASIC_STATS (no btime)"),
]
