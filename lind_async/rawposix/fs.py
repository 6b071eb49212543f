"""RawPOSIX filesystem family: open, the stat family, directories, names — confined to the root.

Every path goes through :class:`lind_async.rawposix.confine.HostRoot` (openat2 RESOLVE_IN_ROOT);
nothing here ever hands a guest path to a host call that resolves it from the host's ``/``.
"""

from __future__ import annotations

import os
import posixpath
import stat as stat_mod
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import (
    EACCES,
    EBADF,
    EEXIST,
    EINVAL,
    EISDIR,
    ELOOP,
    ENOENT,
    ENOTDIR,
    ENXIO,
    ERANGE,
    EROFS,
    GuestError,
)
from lind_async.rawposix import confine, fifo, hostfds, overlay, procfs, shm, structs
from lind_async.rawposix.args import i32, pointer, size, u32
from lind_async.rawposix.confine import guest_join, lexical
from lind_async.rawposix.files import DirEntry, FileOps, SysResult
from lind_async.rawposix.host_file import HostFile
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

# Guest open flags handed to the host as they are (the values are Linux x86_64's on both sides).
_PASSED_FLAGS = (
    F.O_ACCMODE
    | F.O_CREAT
    | F.O_EXCL
    | F.O_TRUNC
    | F.O_APPEND
    | F.O_DIRECTORY
    | F.O_NOFOLLOW
    | F.O_PATH
    | F.O_DSYNC
    | F.O_SYNC
    | F.O_TMPFILE
)
assert (os.O_CREAT, os.O_DIRECTORY, os.O_NOFOLLOW, os.O_PATH) == (
    F.O_CREAT,
    F.O_DIRECTORY,
    F.O_NOFOLLOW,
    F.O_PATH,
), "RawPOSIX assumes a Linux x86_64-compatible host"


def _path(cage: CageView, addr: int) -> bytes:
    return cage.mem.read_cstring(pointer(addr))


def _at_path(cage: CageView, dirfd: int, addr: int) -> bytes:
    """The guest path named by ``(dirfd, path)`` as the ``*at`` calls see it."""
    return at_path(cage, dirfd, _path(cage, addr))


def at_path(cage: CageView, dirfd: int, path: bytes) -> bytes:
    if path.startswith(b"/"):
        return path
    vfd = i32(dirfd)
    if vfd == F.AT_FDCWD:
        return guest_join(cage.cwd, path)
    base = cage.fds.file(vfd)
    if isinstance(base, procfs.FdDirectory):
        return guest_join(b"/proc/self/fd", path)
    if isinstance(base, overlay.OverlayDirectory):
        return guest_join(base.guest_path, path)
    if not isinstance(base, HostFile) or base.guest_path is None:
        raise GuestError(ENOTDIR)
    if base.kind != stat_mod.S_IFDIR:
        if not path:
            raise GuestError(ENOENT)
        raise GuestError(ENOTDIR)
    return guest_join(base.guest_path, path)


_VIRTUAL_DIRS = (b"/proc/", b"/dev/")
# (the flags _open tests, as plain globals: it runs for every open)
_O_ACCMODE, _O_PATH, _O_NOFOLLOW, _O_NONBLOCK = F.O_ACCMODE, F.O_PATH, F.O_NOFOLLOW, os.O_NONBLOCK
_O_TRUNC, _O_CREAT, _O_EXCL, _O_CLOEXEC, _O_WRONLY = (
    F.O_TRUNC, F.O_CREAT, F.O_EXCL, F.O_CLOEXEC, F.O_WRONLY)
_S_IFIFO = stat_mod.S_IFIFO
# what the description keeps (Linux drops O_NOCTTY too: F_GETFL never shows it)
_STATUS_FLAGS = ~(F.O_CREAT | F.O_EXCL | F.O_NOCTTY | F.O_TRUNC | F.O_CLOEXEC)
_O_PATH_KEEPS = F.O_PATH | F.O_CLOEXEC | F.O_DIRECTORY | F.O_NOFOLLOW  # open(2)'s, under O_PATH


def _open(cage: CageView, path: bytes, flags: int, mode: int) -> SysResult:
    # Access mode 3 is Linux's "neither read nor write" open: the host checks both permissions.
    # With O_PATH, open(2) ignores every flag but a few (the host's openat2 would refuse them).
    if flags & _O_PATH:
        flags &= _O_PATH_KEEPS
    access = flags & _O_ACCMODE
    name = lexical(path)
    guest_path: bytes | None = name if name[:1] == b"/" else None  # normalized once
    if name.startswith(_VIRTUAL_DIRS):  # every procfs/devices name is under one of them
        if name == procfs.EXE:
            if flags & _O_NOFOLLOW:
                raise GuestError(ELOOP)
            path = procfs.exe_path(cage)
            guest_path = None
        elif procfs.is_virtual(name):
            virtual = procfs.open_virtual(cage, name, flags)
            if isinstance(virtual, int):
                return virtual
            if virtual is not None:
                return _install(cage, virtual, flags)
    root = cage.world.root
    host_flags = flags & _PASSED_FLAGS
    if not flags & _O_PATH:
        host_flags |= _O_NONBLOCK  # a host FIFO must never block the loop (see fifo.py)
    try:
        opened = confine.native_open_stat
        if opened is None or path.startswith(b"/tmp"):  # (the private /tmp is open_stat's)
            host_fd, st_mode, key = root.open_stat(path, host_flags, mode & ~cage.umask)
        else:  # (root.open_stat's common case, inline: no NUL can be in a read_cstring)
            host_fd, st_mode, key = opened(root.fd, path, host_flags, mode & ~cage.umask)
            if not 0 <= host_fd < hostfds._ceiling:
                root.refused(host_fd)
    except OSError as exc:
        if overlaid(cage, name, exc):
            return _install(cage, overlay.open_entry(name, flags), flags)
        creating = exc.errno == ENOENT and flags & _O_CREAT
        if creating and overlay.under_synthetic(name) and not root.exists(posixpath.dirname(name)):
            raise GuestError(EROFS) from None  # creating in a synthetic /etc or /dev
        if exc.errno != ENXIO or access != _O_WRONLY:
            raise
        # A FIFO without a host reader (there never is one): open it as a node instead.
        node_fd = root.open(path, os.O_PATH | (flags & _O_NOFOLLOW))
        st = os.fstat(node_fd)
        if not stat_mod.S_ISFIFO(st.st_mode):
            os.close(node_fd)
            raise
        return fifo.open_fifo(cage, node_fd, st, flags)
    if flags & _O_TRUNC:
        shm.file_shrunk(os.fstat(host_fd))  # shared mappings: no host page past its end (shm.py)
    if st_mode & 0o170000 == _S_IFIFO and not flags & _O_PATH:
        try:
            st = os.fstat(host_fd)
            node_fd = os.open(f"/proc/self/fd/{host_fd}", os.O_PATH | os.O_CLOEXEC)
        finally:
            os.close(host_fd)
        return fifo.open_fifo(cage, node_fd, st, flags)
    file = HostFile(host_fd, flags & _STATUS_FLAGS, None, st_mode, key)
    file.guest_path = guest_path if guest_path is not None else posixpath.normpath(path)
    try:  # (_install, inline)
        return cage.fds.install(file, cloexec=flags & _O_CLOEXEC != 0)
    except GuestError:
        file.release()
        raise


def overlaid(cage: CageView, name: bytes, exc: OSError) -> bool:
    """Does the default root's overlay answer for ``name`` after the root said ``exc``? Only a
    name the root lacks (``ENOENT``, or ``ENOTDIR``/``ENOENT`` for its directory) is overlaid."""
    if exc.errno not in (ENOENT, ENOTDIR) or not overlay.provides(name):
        return False
    if name == b"/tmp":
        return False  # the private /tmp is a directory of a second root (confine.py)
    return not cage.world.root.exists(name)


def _install(cage: CageView, file: FileOps, flags: int) -> int:
    try:
        return cage.fds.install(file, cloexec=bool(flags & F.O_CLOEXEC))
    except GuestError:
        file.release()
        raise


def sys_open(cage: CageView, path: int, flags: int, mode: int, a4: int = 0, a5: int = 0,
             a6: int = 0) -> SysResult:
    # (hot: the decoders inlined — ``pointer(path)``, ``i32(flags)``, ``u32(mode)`` — and an
    # absolute path taken as it is, as guest_join would)
    addr = path & 0xFFFFFFFFFFFFFFFF
    if addr >= 0xFFFFFFFF80000000:
        addr &= 0xFFFFFFFF
    name = cage.mem.read_cstring(addr)
    if name[:1] != b"/":
        if not name:
            raise GuestError(ENOENT)
        name = cage.cwd.rstrip(b"/") + b"/" + name  # (guest_join)
    how = flags & 0xFFFFFFFF
    if how & 0x80000000:
        how -= 1 << 32
    return _open(cage, name, how, mode & 0xFFFFFFFF)


def sys_openat(cage: CageView, dirfd: int, path: int, flags: int, mode: int, *_: int) -> SysResult:
    return _open(cage, _at_path(cage, dirfd, path), i32(flags), u32(mode))


# -- stat family ----------
def _stat_path(cage: CageView, path: bytes, *, follow: bool) -> os.stat_result:
    name = lexical(path)
    if name == procfs.EXE and follow:
        path = procfs.exe_path(cage)
    elif name == procfs.EXE:
        return procfs.virtual_stat(stat_mod.S_IFLNK | 0o777, 0x7EFFFFFF, size=len(
            procfs.exe_path(cage)))
    else:
        virtual = procfs.stat_virtual(cage, name, follow=follow)
        if virtual is not None:
            return virtual
    root = cage.world.root
    try:
        if follow:
            fd = root.open(path, os.O_PATH)
            try:
                return os.fstat(fd)
            finally:
                os.close(fd)
        with root.parent(path, changing=False) as (dir_fd, last):
            return os.stat(last, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        if overlaid(cage, name, exc):
            return overlay.overlay_stat(name)
        raise


def sys_fstat(cage: CageView, fd: int, statbuf: int, *_: int) -> int:
    file: FileOps = cage.fds.file(i32(fd))  # type: ignore[assignment]
    structs.write_stat(cage.mem, pointer(statbuf), file.stat())
    return 0


def sys_stat(cage: CageView, path: int, statbuf: int, *_: int) -> int:
    st = _stat_path(cage, guest_join(cage.cwd, _path(cage, path)), follow=True)
    structs.write_stat(cage.mem, pointer(statbuf), st)
    return 0


def sys_lstat(cage: CageView, path: int, statbuf: int, *_: int) -> int:
    st = _stat_path(cage, guest_join(cage.cwd, _path(cage, path)), follow=False)
    structs.write_stat(cage.mem, pointer(statbuf), st)
    return 0


def sys_newfstatat(cage: CageView, dirfd: int, path: int, statbuf: int, flags: int, *_: int) -> int:
    at_flags = i32(flags)
    if at_flags & ~(F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH | 0x800):  # 0x800: AT_NO_AUTOMOUNT
        raise GuestError(EINVAL)
    raw = _path(cage, path)
    if not raw and at_flags & F.AT_EMPTY_PATH:
        return sys_fstat(cage, dirfd, statbuf)
    target = _at_path(cage, dirfd, path)
    st = _stat_path(cage, target, follow=not at_flags & F.AT_SYMLINK_NOFOLLOW)
    structs.write_stat(cage.mem, pointer(statbuf), st)
    return 0


# -- directories ----------
def sys_getdents64(cage: CageView, fd: int, dirp: int, count: int, *_: int) -> int:
    file = cage.fds.file(i32(fd))
    if isinstance(file, HostFile):
        if file.status_flags & F.O_PATH:
            raise GuestError(EBADF)
        if file.kind != stat_mod.S_IFDIR:
            raise GuestError(ENOTDIR)
    elif not isinstance(file, procfs.FdDirectory | overlay.OverlayDirectory):
        raise GuestError(ENOTDIR)
    entries = file.dir_entries()
    if isinstance(file, HostFile) and file.guest_path in overlay.DIRECTORIES:
        entries = _with_overlay(cage, file, entries)
    addr, capacity = pointer(dirp), size(count)
    cage.mem.check(addr, capacity)
    used = 0
    index = file.dir_cursor
    while index < len(entries):
        record = structs.dirent64(entries[index], index + 1)
        if used + len(record) > capacity:
            if used == 0:
                raise GuestError(EINVAL)
            break
        cage.mem.write(addr + used, record)
        used += len(record)
        index += 1
    file.dir_cursor = index
    return used


def _with_overlay(cage: CageView, file: HostFile, entries: list[DirEntry]) -> list[DirEntry]:
    """A real ``/``, ``/etc`` or ``/dev`` listed with the overlaid names it lacks (once per
    snapshot: the cursor indexes the merged list)."""
    if file.dir_merged:
        return entries
    base = file.guest_path or b"/"
    prefix = b"" if base == b"/" else base
    present = {e.name for e in entries}
    missing = {
        name for name in overlay.DIRECTORIES[base]
        if name not in present and not cage.world.root.exists(prefix + b"/" + name)
    }
    merged = overlay.merged(base, entries, present | (set(overlay.DIRECTORIES[base]) - missing))
    file.replace_dir_snapshot(merged)
    return merged


def sys_getcwd(cage: CageView, buf: int, length: int, *_: int) -> int:
    data = cage.cwd + b"\0"
    if size(length) < len(data):
        raise GuestError(ERANGE)
    cage.mem.write(pointer(buf), data)
    return len(data)


def sys_chdir(cage: CageView, path: int, *_: int) -> int:
    target = guest_join(cage.cwd, _path(cage, path))
    try:
        os.close(cage.world.root.open(target, os.O_PATH | os.O_DIRECTORY))
    except OSError as exc:
        name = lexical(target)
        if not overlaid(cage, name, exc) or name not in overlay.SYNTHETIC_DIRS:
            if overlaid(cage, name, exc):
                raise GuestError(ENOTDIR) from None
            raise
    cage.cwd = posixpath.normpath(target)
    if cage.cwd.startswith(b"//"):
        cage.cwd = b"/" + cage.cwd.lstrip(b"/")
    return 0


def _mkdir(cage: CageView, path: bytes, mode: int) -> int:
    if overlay.provides(lexical(path)) and not cage.world.root.exists(lexical(path)):
        raise GuestError(EEXIST)
    with cage.world.root.parent(path) as (dir_fd, name):
        if name in (b".", b".."):
            raise GuestError(EEXIST)
        os.mkdir(name, mode & 0o7777 & ~cage.umask, dir_fd=dir_fd)
    return 0


def sys_mkdir(cage: CageView, path: int, mode: int, *_: int) -> int:
    return _mkdir(cage, guest_join(cage.cwd, _path(cage, path)), u32(mode))


def sys_mkdirat(cage: CageView, dirfd: int, path: int, mode: int, *_: int) -> int:
    return _mkdir(cage, _at_path(cage, dirfd, path), u32(mode))


def _remove(cage: CageView, path: bytes, *, directory: bool) -> int:
    with cage.world.root.parent(path) as (dir_fd, name):
        if name in (b".", b".."):
            raise GuestError(EINVAL if directory else EISDIR)
        if directory:
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)
    return 0


def sys_rmdir(cage: CageView, path: int, *_: int) -> int:
    return _remove(cage, guest_join(cage.cwd, _path(cage, path)), directory=True)


def sys_unlink(cage: CageView, path: int, *_: int) -> int:
    return _remove(cage, guest_join(cage.cwd, _path(cage, path)), directory=False)


def sys_unlinkat(cage: CageView, dirfd: int, path: int, flags: int, *_: int) -> int:
    at_flags = i32(flags)
    if at_flags & ~F.AT_REMOVEDIR:
        raise GuestError(EINVAL)
    target = _at_path(cage, dirfd, path)
    return _remove(cage, target, directory=bool(at_flags & F.AT_REMOVEDIR))


def _access(cage: CageView, path: bytes, mode: int, flags: int) -> int:
    if mode & ~(F.R_OK | F.W_OK | F.X_OK):
        raise GuestError(EINVAL)
    if procfs.is_virtual(lexical(path)):
        procfs.stat_virtual(cage, lexical(path), follow=True)  # ENXIO, EBADF…
        return 0
    open_flags = os.O_PATH | (os.O_NOFOLLOW if flags & F.AT_SYMLINK_NOFOLLOW else 0)
    try:
        fd = cage.world.root.open(path, open_flags)
    except OSError as exc:
        if not overlaid(cage, lexical(path), exc):
            raise
        if mode & F.W_OK:
            raise GuestError(EROFS) from None
        if mode & F.X_OK and lexical(path) in overlay.ETC:
            raise GuestError(EACCES) from None
        return 0
    try:
        if mode and not os.access(f"/proc/self/fd/{fd}", mode):
            raise GuestError(EACCES)
    finally:
        os.close(fd)
    return 0


def sys_access(cage: CageView, path: int, mode: int, *_: int) -> int:
    return _access(cage, guest_join(cage.cwd, _path(cage, path)), i32(mode), 0)


def sys_faccessat(cage: CageView, dirfd: int, path: int, mode: int, *_: int) -> int:
    return _access(cage, _at_path(cage, dirfd, path), i32(mode), 0)


def sys_faccessat2(cage: CageView, dirfd: int, path: int, mode: int, flags: int, *_: int) -> int:
    at_flags = i32(flags)
    if at_flags & ~(F.AT_EACCESS | F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH):
        raise GuestError(EINVAL)
    return _access(cage, _at_path(cage, dirfd, path), i32(mode), at_flags)


ROWS: list[Row] = [
    (nr.SYS_open, sys_open, Support.FULL, "confined to --root"),
    (nr.SYS_openat, sys_openat, Support.FULL, "confined to --root"),
    (nr.SYS_fstat, sys_fstat, Support.FULL, ""),
    (nr.SYS_stat, sys_stat, Support.FULL, ""),
    (nr.SYS_lstat, sys_lstat, Support.FULL, ""),
    (nr.SYS_newfstatat, sys_newfstatat, Support.FULL, ""),
    (nr.SYS_getdents64, sys_getdents64, Support.FULL, ""),
    (nr.SYS_getcwd, sys_getcwd, Support.FULL, ""),
    (nr.SYS_chdir, sys_chdir, Support.FULL, ""),
    (nr.SYS_mkdir, sys_mkdir, Support.FULL, ""),
    (nr.SYS_mkdirat, sys_mkdirat, Support.FULL, ""),
    (nr.SYS_rmdir, sys_rmdir, Support.FULL, ""),
    (nr.SYS_unlink, sys_unlink, Support.FULL, ""),
    (nr.SYS_unlinkat, sys_unlinkat, Support.FULL, ""),
    (nr.SYS_access, sys_access, Support.FULL, ""),
    (nr.SYS_faccessat, sys_faccessat, Support.FULL, ""),
    (nr.SYS_faccessat2, sys_faccessat2, Support.FULL, ""),
]
