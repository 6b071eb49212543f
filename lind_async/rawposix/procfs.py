"""Minimal virtual views: ``/dev/fd``, ``/dev/std*``, ``/dev/tty``, ``/proc/self/{fd,exe}``.

These names never reach the host root. A guest path is matched *lexically* (normalized, absolute)
before the root is consulted, as the device files of ``devices.DEVICES`` are:

- ``/dev/fd/N``, ``/proc/self/fd/N`` and ``/dev/stdin|stdout|stderr`` name the cage's own
  descriptor N. Opening one reopens a regular file as Linux does (a new description with its own
  offset, through the host's ``/proc/self/fd`` of our host fd — never a guest path) and shares the
  description of any other kind (a pipe end, a stream, a device). A host object outside the root
  (host stdio: ``foreign.py``) is only shared, never widened: an access its description lacks is
  ``EACCES``, and ``O_TRUNC`` does not truncate it;
- ``/dev/fd`` and ``/proc/self/fd`` are directories listing the cage's open descriptors, each a
  symlink whose ``readlink`` is the guest path (``pipe:[ino]`` for a pipe);
- ``/proc/self/exe`` is a symlink to the cage's program path inside the root (``argv[0]`` made
  absolute against the cage's cwd: the microvisor does not record the exec path);
- ``/dev/tty`` is the microvisor's controlling terminal, reopened non-blocking, or ``ENXIO``;
- ``/proc/self/stat`` and the other text files of ``procinfo.py``.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat as stat_mod
from typing import TYPE_CHECKING

from lind_async.abi.errno import (
    EACCES,
    EINVAL,
    EISDIR,
    ELOOP,
    ENOENT,
    ENOTDIR,
    ENXIO,
    EROFS,
    GuestError,
)
from lind_async.abi.flags import (
    O_ACCMODE,
    O_CLOEXEC,
    O_CREAT,
    O_EXCL,
    O_NOFOLLOW,
    O_PATH,
    O_RDONLY,
    O_TRUNC,
    O_WRONLY,
)
from lind_async.rawposix import hostfds, procinfo
from lind_async.rawposix.devices import DEVICES
from lind_async.rawposix.files import DirEntry, FileOps
from lind_async.rawposix.foreign import is_foreign
from lind_async.rawposix.host_file import HostFile
from lind_async.rawposix.host_stream import HostStream
from lind_async.rawposix.overlay import OverlayFile
from lind_async.rawposix.synthetic import SnapshotDirectory

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_FD_DIRS = (b"/dev/fd", b"/proc/self/fd")
_FD_ENTRY = re.compile(rb"^(?:/dev/fd|/proc/self/fd)/(\d+)$")
_STDIO = {b"/dev/stdin": 0, b"/dev/stdout": 1, b"/dev/stderr": 2}
EXE = b"/proc/self/exe"
TTY = b"/dev/tty"
_VIRTUAL_INO = 0x7F000000
_DT_LNK = 10


def fd_of(path: bytes) -> int | None:
    """The descriptor named by ``/dev/fd/N``-like ``path`` (lexically normalized), if any."""
    if path in _STDIO:
        return _STDIO[path]
    match = _FD_ENTRY.match(path)
    return int(match.group(1)) if match else None


def named_file(cage: CageView, vfd: int) -> FileOps:
    """The description a ``/proc/self/fd/N``-like name stands for. A closed ``N`` is a name
    that does not exist (``ENOENT``, as Linux's directory has no such entry), not a bad
    descriptor."""
    if vfd not in cage.fds:
        raise GuestError(ENOENT)
    return cage.fds.file(vfd)  # type: ignore[return-value]


def is_virtual(path: bytes) -> bool:
    return (
        path in _FD_DIRS or path in (EXE, TTY) or path in DEVICES or fd_of(path) is not None
        or procinfo.is_info(path)
    )


class FdDirectory(SnapshotDirectory):
    """An open ``/proc/self/fd`` (or ``/dev/fd``): a listing of the cage's descriptors."""

    __slots__ = ("_cage",)

    def __init__(self, cage: CageView, status_flags: int) -> None:
        super().__init__(status_flags)
        self._cage = cage

    def entries(self) -> list[DirEntry]:
        entries = [DirEntry(b".", _VIRTUAL_INO, 4), DirEntry(b"..", _VIRTUAL_INO, 4)]
        for vfd, _entry in self._cage.fds.items():
            entries.append(DirEntry(b"%d" % vfd, _VIRTUAL_INO + 1 + vfd, _DT_LNK))
        return entries

    def stat(self) -> os.stat_result:
        return virtual_stat(stat_mod.S_IFDIR | 0o500, _VIRTUAL_INO, nlink=2)


def virtual_stat(mode: int, ino: int, nlink: int = 1, size: int = 0) -> os.stat_result:
    return os.stat_result(
        (mode, ino, 0x7F, nlink, os.getuid(), os.getgid(), size, 0, 0, 0), {"st_blksize": 1024}
    )


def open_virtual(cage: CageView, path: bytes, flags: int) -> FileOps | int | None:
    """Open a virtual name: a new description, an already installed descriptor (an ``int``),
    or None when ``path`` is not virtual."""
    device = DEVICES.get(path)
    if device is not None:
        return device(flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC))
    if path in _FD_DIRS:
        if flags & O_ACCMODE:
            raise GuestError(EISDIR)
        return FdDirectory(cage, flags & ~O_CLOEXEC)
    if path == TTY:
        return _open_tty(flags)
    if path == EXE:
        return None  # a symlink: the caller opens its target
    if procinfo.is_info(path):
        return procinfo.open_info(cage, path, flags)
    vfd = fd_of(path)
    if vfd is None:
        return None
    if flags & O_NOFOLLOW and not path.startswith(b"/dev/std"):
        raise GuestError(ELOOP)  # the entries are symlinks
    file = named_file(cage, vfd)
    if isinstance(file, OverlayFile) and (flags & O_ACCMODE != O_RDONLY or flags & O_TRUNC):
        raise GuestError(EROFS)  # the default root's files are read-only however named
    if isinstance(file, HostFile) and file.kind == stat_mod.S_IFREG:
        host_flags = flags & ~(O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW)
        again = f"/proc/self/fd/{file.host_fd}"
        fd = hostfds.open_fd(lambda: os.open(again, host_flags | os.O_CLOEXEC | os.O_NONBLOCK))
        reopened = HostFile(fd, flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC))
        reopened.guest_path = file.guest_path
        return reopened
    if isinstance(file, HostFile) and file.kind == stat_mod.S_IFDIR and flags & O_ACCMODE:
        raise GuestError(EISDIR)
    if is_foreign(file) and not flags & O_PATH:
        access = flags & O_ACCMODE
        if (access != O_WRONLY and not file.readable()) or (
            access != O_RDONLY and not file.writable()
        ):
            raise GuestError(EACCES)  # the stream as handed over, never more
    return cage.fds.install(file, cloexec=bool(flags & O_CLOEXEC))


def _open_tty(flags: int) -> FileOps:
    access = flags & O_ACCMODE
    try:
        fd = hostfds.open_fd(
            lambda: os.open("/dev/tty", access | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        )
    except OSError:
        raise GuestError(ENXIO) from None
    return HostStream(
        fd, flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC), nonblocking=True, tty=True
    )


def readlink(cage: CageView, path: bytes) -> bytes | None:
    """``readlink`` of a virtual name, or None when ``path`` is not a virtual symlink."""
    if path == EXE:
        return exe_path(cage)
    if path in (b"/dev/fd", b"/dev/stdin", b"/dev/stdout", b"/dev/stderr") or path in DEVICES:
        if path == b"/dev/fd":
            return b"/proc/self/fd"
        if path in _STDIO:
            return b"/proc/self/fd/%d" % _STDIO[path]
        raise GuestError(EINVAL)
    vfd = fd_of(path)
    if vfd is None:
        return None
    return describe(named_file(cage, vfd))


def describe(file: object) -> bytes:
    """What ``readlink("/proc/self/fd/N")`` says of a description."""
    from lind_async.rawposix.pipe import PipeEnd

    if isinstance(file, HostFile) and file.guest_path is not None:
        return file.guest_path
    if isinstance(file, PipeEnd):
        return b"pipe:[%d]" % file.pipe.inode
    for name, kind in DEVICES.items():
        if type(file) is kind:
            return name
    if isinstance(file, FdDirectory):
        return b"/proc/self/fd"
    if isinstance(file, FileOps):
        try:
            st = file.stat()
        except (GuestError, OSError):
            return b"anon_inode:[%s]" % type(file).__name__.lower().encode()
        return b"anon_inode:[%d]" % st.st_ino
    raise GuestError(ENOENT)


def exe_path(cage: CageView) -> bytes:
    """``readlink("/proc/self/exe")``: the program's path inside the root, never a host path.
    A program the embedder started from outside the root is named ``/`` and its file name."""
    inside = exe_in_root(cage)
    if inside is not None:
        return inside
    return b"/" + posixpath.basename(_argv0_path(cage))


def _argv0_path(cage: CageView) -> bytes:
    argv0 = cage.argv[0] if cage.argv else b""
    if b"/" not in argv0:
        raise GuestError(ENOENT)
    full = argv0 if argv0.startswith(b"/") else cage.cwd.rstrip(b"/") + b"/" + argv0
    return b"/" + posixpath.normpath(full).lstrip(b"/")


def exe_in_root(cage: CageView) -> bytes | None:
    """The program's path inside the root (``argv[0]`` against the cwd, as the guest sees it, or,
    for a program the embedder named by its host path under the root, that path made relative
    to the root); None when the root does not hold it."""
    path = _argv0_path(cage)
    root = cage.world.root
    candidates = [path]
    host_root = os.fsencode(root.path).rstrip(b"/") + b"/"
    if path.startswith(host_root):
        candidates.append(b"/" + path[len(host_root):])
    for candidate in candidates:
        try:
            os.close(root.open(candidate, os.O_PATH))
        except (GuestError, OSError):
            continue
        return candidate
    return None


def stat_virtual(cage: CageView, path: bytes, *, follow: bool) -> os.stat_result | None:
    """``stat``/``lstat`` of a virtual name, or None when ``path`` is not virtual (or ``exe``,
    which the caller resolves through the root)."""
    device = DEVICES.get(path)
    if device is not None:
        return device(0).stat()
    if path in _FD_DIRS:
        if path == b"/dev/fd" and not follow:
            return virtual_stat(stat_mod.S_IFLNK | 0o777, _VIRTUAL_INO - 1, size=13)
        return virtual_stat(stat_mod.S_IFDIR | 0o500, _VIRTUAL_INO, nlink=2)
    if procinfo.is_info(path):
        return procinfo.stat_info(cage, path)
    if path == TTY:
        try:
            return os.stat("/dev/tty")
        except OSError:
            raise GuestError(ENXIO) from None
    vfd = fd_of(path)
    if vfd is None:
        return None
    file = named_file(cage, vfd)
    if not follow:
        target = describe(file)
        return virtual_stat(stat_mod.S_IFLNK | 0o700, _VIRTUAL_INO + 1 + vfd, size=len(target))
    return file.stat()


def check_dir(path: bytes) -> None:
    """``ENOTDIR`` for a path under a virtual non-directory (e.g. ``/dev/null/x``)."""
    for name in DEVICES:
        if path.startswith(name + b"/"):
            raise GuestError(ENOTDIR)
