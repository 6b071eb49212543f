"""RawPOSIX filesystem metadata family: links, renames, nodes, modes, owners, times, fchdir.

Every name is confined to the root as in ``fs.py``. Two ways to reach a file by name:

- *no-follow* calls (``lchown``, ``rename``, ``link``, ``AT_SYMLINK_NOFOLLOW``…) act on the last
  component through the ``O_PATH`` fd of its confined parent directory (``HostRoot.parent``);
- *follow* calls open the name confined with ``O_PATH`` (the kernel resolves every symlink inside
  the root) and act on ``/proc/self/fd/N`` of that fd, which names exactly that file.

A description that wraps a host object outside the root (host stdio, an embedder's fd, the
terminal: ``foreign.py``) never becomes a name here (``link``/``linkat`` ``EPERM``) and its
metadata (mode, owner, size, times) changes only where the embedder granted it (else ``EPERM``),
whether the call names it by descriptor or by ``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``.

Sizes, sync and copies are ``fs_data.py``; ``statfs`` and ``statx`` are ``fs_status.py``. Both
reach files through this module's helpers (:func:`_opened`, :func:`_file`, :func:`_host_fd`).
"""

from __future__ import annotations

import os
import stat as stat_mod
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import (
    EBADF,
    EBUSY,
    EEXIST,
    EINVAL,
    ENOENT,
    ENOTDIR,
    EPERM,
    EXDEV,
    GuestError,
)
from lind_async.rawposix import confine, overlay, procfs
from lind_async.rawposix.args import i32, pointer, u32
from lind_async.rawposix.confine import guest_join, lexical
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.foreign import check_metadata, check_nameable
from lind_async.rawposix.fs import _open, _path, at_path, overlaid
from lind_async.rawposix.host_file import HostFile
from lind_async.rawposix.host_stream import HostStream
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_TIMESPEC = struct.Struct(L.TIMESPEC.fmt)
_NS = 1_000_000_000


def _cwd_path(cage: CageView, addr: int) -> bytes:
    return guest_join(cage.cwd, _path(cage, addr))


def _dir_path(cage: CageView, dirfd: int, addr: int) -> bytes:
    return at_path(cage, dirfd, _path(cage, addr))


Check = Callable[[object], None]


@contextmanager
def _opened(
    cage: CageView, path: bytes, check: Check | None, *, follow: bool = True,
) -> Iterator[str]:
    """A host name for the file ``path`` names (confined), valid inside the ``with``. A virtual
    name (``/dev/fd/N``…) stands for the cage's descriptor, which ``check`` may refuse (a foreign
    object: :mod:`lind_async.rawposix.foreign`)."""
    name = lexical(path)
    if name == procfs.EXE and follow:
        path = procfs.exe_path(cage)
    elif procfs.is_virtual(name):
        vfd = procfs.fd_of(name)
        file = procfs.named_file(cage, vfd) if vfd is not None else None
        if file is not None and check is not None:
            check(file)
        host = _host_fd(file) if file is not None else None
        if host is None:
            raise GuestError(EPERM)
        yield f"/proc/self/fd/{host}"
        return
    try:
        fd = cage.world.root.open(path, os.O_PATH | (0 if follow else os.O_NOFOLLOW))
    except OSError as exc:
        if overlaid(cage, name, exc):
            raise overlay.refuse_change() from None  # the default root's files are read-only
        raise
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _host_fd(file: object) -> int | None:
    """The host fd behind a description, if it has one (a FIFO end: its node)."""
    if isinstance(file, HostFile | HostStream):
        return file.host_fd
    node = getattr(file, "node_fd", None)
    return node if isinstance(node, int) else None


def _file(cage: CageView, fd: int) -> FileOps:
    return cage.fds.file(i32(fd))  # type: ignore[return-value]


def _check_name(name: bytes) -> None:
    if name in (b".", b".."):
        raise GuestError(EEXIST)


# -- creat, links ---------------------------------------------------------------------------------
def sys_creat(cage: CageView, path: int, mode: int, *_: int) -> SysResult:
    return _open(cage, _cwd_path(cage, path), F.O_CREAT | F.O_WRONLY | F.O_TRUNC, u32(mode))


def _link(cage: CageView, old: bytes, new: bytes, follow: bool) -> int:
    root = cage.world.root
    if overlay.provides(lexical(old)) and not root.exists(lexical(old)):
        raise GuestError(EXDEV)  # the default root's entries live on no filesystem of the root
    with root.parent(new) as (new_dir, new_name):
        _check_name(new_name)
        if follow:
            with _opened(cage, old, check_nameable) as host_name:
                os.link(host_name, new_name, dst_dir_fd=new_dir, follow_symlinks=True)
            return 0
        with root.parent(old, changing=False) as (old_dir, old_name):
            if old_name in (b".", b".."):
                raise GuestError(EPERM)
            os.link(
                old_name, new_name, src_dir_fd=old_dir, dst_dir_fd=new_dir, follow_symlinks=False
            )
    return 0


def sys_link(cage: CageView, old: int, new: int, *_: int) -> int:
    return _link(cage, _cwd_path(cage, old), _cwd_path(cage, new), False)


def sys_linkat(
    cage: CageView, olddir: int, old: int, newdir: int, new: int, flags: int, *_: int
) -> int:
    at_flags = i32(flags)
    if at_flags & ~(F.AT_SYMLINK_FOLLOW | F.AT_EMPTY_PATH):
        raise GuestError(EINVAL)
    raw = _path(cage, old)
    new_path = _dir_path(cage, newdir, new)
    if not raw and at_flags & F.AT_EMPTY_PATH:
        file = _file(cage, olddir)
        check_nameable(file)
        host = _host_fd(file)
        if host is None:
            raise GuestError(ENOENT)
        with cage.world.root.parent(new_path) as (new_dir, new_name):
            _check_name(new_name)
            os.link(f"/proc/self/fd/{host}", new_name, dst_dir_fd=new_dir, follow_symlinks=True)
        return 0
    old_path = at_path(cage, olddir, raw)
    return _link(cage, old_path, new_path, bool(at_flags & F.AT_SYMLINK_FOLLOW))


def _symlink(cage: CageView, target: bytes, link: bytes) -> int:
    if not target:
        raise GuestError(ENOENT)
    with cage.world.root.parent(link) as (dir_fd, name):
        _check_name(name)
        os.symlink(target, name, dir_fd=dir_fd)
    return 0


def sys_symlink(cage: CageView, target: int, link: int, *_: int) -> int:
    return _symlink(cage, _path(cage, target), _cwd_path(cage, link))


def sys_symlinkat(cage: CageView, target: int, newdir: int, link: int, *_: int) -> int:
    return _symlink(cage, _path(cage, target), _dir_path(cage, newdir, link))


def _readlink(cage: CageView, path: bytes, buf: int, bufsiz: int) -> int:
    capacity = i32(bufsiz)
    if capacity <= 0:
        raise GuestError(EINVAL)
    addr = pointer(buf)
    target = procfs.readlink(cage, lexical(path))
    if target is None:
        try:
            with cage.world.root.parent(path, changing=False) as (dir_fd, name):
                if name in (b".", b".."):
                    raise GuestError(EINVAL)
                target = os.readlink(name, dir_fd=dir_fd)
        except OSError as exc:
            if overlaid(cage, lexical(path), exc):
                raise GuestError(EINVAL) from None  # an overlaid file or directory: no symlink
            raise
    data = target[:capacity]
    cage.mem.write(addr, data)
    return len(data)


def sys_readlink(cage: CageView, path: int, buf: int, bufsiz: int, *_: int) -> int:
    return _readlink(cage, _cwd_path(cage, path), buf, bufsiz)


def sys_readlinkat(cage: CageView, dirfd: int, path: int, buf: int, bufsiz: int, *_: int) -> int:
    return _readlink(cage, _dir_path(cage, dirfd, path), buf, bufsiz)


# -- rename ---------------------------------------------------------------------------------------
def _rename(cage: CageView, old: bytes, new: bytes, flags: int) -> int:
    if flags & ~(F.RENAME_NOREPLACE | F.RENAME_EXCHANGE | F.RENAME_WHITEOUT):
        raise GuestError(EINVAL)
    if flags & F.RENAME_EXCHANGE and flags & (F.RENAME_NOREPLACE | F.RENAME_WHITEOUT):
        raise GuestError(EINVAL)
    root = cage.world.root
    with root.parent(old) as (old_dir, old_name), root.parent(new) as (new_dir, new_name):
        if old_name in (b".", b"..") or new_name in (b".", b".."):
            raise GuestError(EBUSY)
        if flags:
            confine.renameat2(old_dir, old_name, new_dir, new_name, flags)
        else:
            os.rename(old_name, new_name, src_dir_fd=old_dir, dst_dir_fd=new_dir)
    return 0


def sys_rename(cage: CageView, old: int, new: int, *_: int) -> int:
    return _rename(cage, _cwd_path(cage, old), _cwd_path(cage, new), 0)


def sys_renameat(cage: CageView, olddir: int, old: int, newdir: int, new: int, *_: int) -> int:
    return _rename(cage, _dir_path(cage, olddir, old), _dir_path(cage, newdir, new), 0)


def sys_renameat2(
    cage: CageView, olddir: int, old: int, newdir: int, new: int, flags: int, *_: int
) -> int:
    return _rename(cage, _dir_path(cage, olddir, old), _dir_path(cage, newdir, new), u32(flags))


# -- nodes ----------------------------------------------------------------------------------------
def _mknod(cage: CageView, path: bytes, mode: int, dev: int) -> int:
    kind = stat_mod.S_IFMT(mode) or stat_mod.S_IFREG
    perm = mode & 0o7777 & ~cage.umask
    if kind not in (
        stat_mod.S_IFREG,
        stat_mod.S_IFIFO,
        stat_mod.S_IFCHR,
        stat_mod.S_IFBLK,
        stat_mod.S_IFSOCK,
    ):
        raise GuestError(EINVAL)
    with cage.world.root.parent(path) as (dir_fd, name):
        _check_name(name)
        if kind in (stat_mod.S_IFCHR, stat_mod.S_IFBLK):
            # Devices need CAP_MKNOD: a cage is an unprivileged user (EEXIST comes first).
            try:
                os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise GuestError(EPERM) from None
            raise GuestError(EEXIST)
        if kind == stat_mod.S_IFIFO:
            os.mkfifo(name, perm, dir_fd=dir_fd)
        else:
            os.mknod(name, kind | perm, dir_fd=dir_fd)
    return 0


def sys_mknod(cage: CageView, path: int, mode: int, dev: int, *_: int) -> int:
    return _mknod(cage, _cwd_path(cage, path), u32(mode), dev)


def sys_mknodat(cage: CageView, dirfd: int, path: int, mode: int, dev: int, *_: int) -> int:
    return _mknod(cage, _dir_path(cage, dirfd, path), u32(mode), dev)


# -- modes and owners -----------------------------------------------------------------------------
def sys_chmod(cage: CageView, path: int, mode: int, *_: int) -> int:
    with _opened(cage, _cwd_path(cage, path), check_metadata) as name:
        os.chmod(name, u32(mode) & 0o7777)
    return 0


def sys_fchmodat(cage: CageView, dirfd: int, path: int, mode: int, *_: int) -> int:
    with _opened(cage, _dir_path(cage, dirfd, path), check_metadata) as name:
        os.chmod(name, u32(mode) & 0o7777)
    return 0


def sys_fchmod(cage: CageView, fd: int, mode: int, *_: int) -> int:
    file = _file(cage, fd)
    check_metadata(file)
    if isinstance(file, HostFile):
        if file.status_flags & F.O_PATH:
            raise GuestError(EBADF)
        os.fchmod(file.host_fd, u32(mode) & 0o7777)
        return 0
    host = _host_fd(file)
    if host is not None:
        os.chmod(f"/proc/self/fd/{host}", u32(mode) & 0o7777)
    return 0  # an in-process object (pipe, eventfd…): nothing on the host to change


def _ids(owner: int, group: int) -> tuple[int, int]:
    uid, gid = u32(owner), u32(group)
    return (-1 if uid == 0xFFFFFFFF else uid), (-1 if gid == 0xFFFFFFFF else gid)


def _chown(cage: CageView, path: bytes, owner: int, group: int, *, follow: bool) -> int:
    uid, gid = _ids(owner, group)
    if follow:
        with _opened(cage, path, check_metadata) as name:
            os.chown(name, uid, gid)
        return 0
    with cage.world.root.parent(path) as (dir_fd, name_b):
        os.chown(name_b, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
    return 0


def sys_chown(cage: CageView, path: int, owner: int, group: int, *_: int) -> int:
    return _chown(cage, _cwd_path(cage, path), owner, group, follow=True)


def sys_lchown(cage: CageView, path: int, owner: int, group: int, *_: int) -> int:
    return _chown(cage, _cwd_path(cage, path), owner, group, follow=False)


def sys_fchown(cage: CageView, fd: int, owner: int, group: int, *_: int) -> int:
    file = _file(cage, fd)
    check_metadata(file)
    host = _host_fd(file)
    if isinstance(file, HostFile) and file.status_flags & F.O_PATH:
        raise GuestError(EBADF)
    if host is not None:
        uid, gid = _ids(owner, group)
        os.chown(f"/proc/self/fd/{host}", uid, gid)
    return 0


def sys_fchownat(
    cage: CageView, dirfd: int, path: int, owner: int, group: int, flags: int, *_: int
) -> int:
    at_flags = i32(flags)
    if at_flags & ~(F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH):
        raise GuestError(EINVAL)
    raw = _path(cage, path)
    if not raw and at_flags & F.AT_EMPTY_PATH:
        file = _file(cage, dirfd)
        check_metadata(file)
        host = _host_fd(file)
        if host is not None:
            uid, gid = _ids(owner, group)
            os.chown(f"/proc/self/fd/{host}", uid, gid)
        return 0
    target = at_path(cage, dirfd, raw)
    return _chown(cage, target, owner, group, follow=not at_flags & F.AT_SYMLINK_NOFOLLOW)


def sys_umask(cage: CageView, mask: int, *_: int) -> int:
    old = cage.umask
    cage.umask = u32(mask) & 0o777
    return old


# -- times ----------------------------------------------------------------------------------------
def _times(cage: CageView, addr: int) -> tuple[int, int, int, int] | None:
    if not addr:
        return None
    a_sec, a_nsec, _a = cage.mem.unpack(_TIMESPEC, addr)
    m_sec, m_nsec, _m = cage.mem.unpack(_TIMESPEC, addr + _TIMESPEC.size)
    for nsec in (a_nsec, m_nsec):
        if not (0 <= nsec < _NS or nsec in (F.UTIME_NOW, F.UTIME_OMIT)):
            raise GuestError(EINVAL)
    return a_sec, a_nsec, m_sec, m_nsec


def sys_utimensat(cage: CageView, dirfd: int, path: int, times: int, flags: int, *_: int) -> int:
    at_flags = i32(flags)
    if at_flags & ~(F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH):
        raise GuestError(EINVAL)
    spec = _times(cage, pointer(times))
    if spec is not None and spec[1] == F.UTIME_OMIT and spec[3] == F.UTIME_OMIT:
        return 0
    path_addr = pointer(path)
    raw = _path(cage, path_addr) if path_addr else None
    if raw is None or (not raw and at_flags & F.AT_EMPTY_PATH):
        file = _file(cage, dirfd)
        if isinstance(file, HostFile) and file.status_flags & F.O_PATH and raw is None:
            raise GuestError(EBADF)
        check_metadata(file)
        host = _host_fd(file)
        if host is None:
            return 0
        confine.utimensat(-100, f"/proc/self/fd/{host}".encode(), spec, 0)
        return 0
    target = at_path(cage, dirfd, raw)
    if at_flags & F.AT_SYMLINK_NOFOLLOW and not procfs.is_virtual(lexical(target)):
        with cage.world.root.parent(target) as (dir_fd, name):
            confine.utimensat(dir_fd, name, spec, F.AT_SYMLINK_NOFOLLOW)
        return 0
    with _opened(cage, target, check_metadata) as host_name:
        confine.utimensat(-100, host_name.encode(), spec, 0)
    return 0


# -- directories ----------------------------------------------------------------------------------
def sys_fchdir(cage: CageView, fd: int, *_: int) -> int:
    file = _file(cage, fd)
    if not isinstance(file, HostFile) or file.kind != stat_mod.S_IFDIR:
        raise GuestError(ENOTDIR)
    path = cage.world.root.guest_path_of(file.host_fd) or file.guest_path
    if path is None:
        raise GuestError(ENOENT)
    cage.cwd = path
    return 0


ROWS: list[Row] = [
    (nr.SYS_creat, sys_creat, Support.FULL, ""),
    (nr.SYS_link, sys_link, Support.FULL, ""),
    (nr.SYS_linkat, sys_linkat, Support.FULL, ""),
    (nr.SYS_symlink, sys_symlink, Support.FULL, "targets resolve inside the root"),
    (nr.SYS_symlinkat, sys_symlinkat, Support.FULL, ""),
    (nr.SYS_readlink, sys_readlink, Support.FULL, "+ /proc/self/{fd/N,exe}"),
    (nr.SYS_readlinkat, sys_readlinkat, Support.FULL, ""),
    (nr.SYS_rename, sys_rename, Support.FULL, ""),
    (nr.SYS_renameat, sys_renameat, Support.FULL, ""),
    (nr.SYS_renameat2, sys_renameat2, Support.FULL, "NOREPLACE, EXCHANGE, WHITEOUT"),
    (nr.SYS_mknod, sys_mknod, Support.PARTIAL, "FIFO, regular, socket; devices EPERM"),
    (nr.SYS_mknodat, sys_mknodat, Support.PARTIAL, "FIFO, regular, socket; devices EPERM"),
    (nr.SYS_chmod, sys_chmod, Support.FULL, ""),
    (nr.SYS_fchmod, sys_fchmod, Support.FULL, ""),
    (nr.SYS_fchmodat, sys_fchmodat, Support.FULL, ""),
    (nr.SYS_chown, sys_chown, Support.FULL, "as the host user"),
    (nr.SYS_fchown, sys_fchown, Support.FULL, "as the host user"),
    (nr.SYS_lchown, sys_lchown, Support.FULL, "as the host user"),
    (nr.SYS_fchownat, sys_fchownat, Support.FULL, "as the host user"),
    (nr.SYS_umask, sys_umask, Support.FULL, ""),
    (nr.SYS_utimensat, sys_utimensat, Support.FULL, "UTIME_NOW/UTIME_OMIT"),
    (nr.SYS_fchdir, sys_fchdir, Support.FULL, ""),
]
