"""Filesystem confinement: every guest path resolves inside the microvisor's root directory.

Theory of operation
-------------------
The root is held open as an ``O_PATH`` directory fd. A guest path (absolute, or relative to the
cage's cwd, which is itself a guest path) is handed to Linux ``openat2(root_fd, path,
RESOLVE_IN_ROOT)``: the kernel resolves every component — ``..``, absolute symlinks, relative
symlinks — as if ``root`` were ``/``, so nothing can name a host file outside it, and there is no
time-of-check/time-of-use window as with a user-space walk. (The kernel has had it since 5.6; an
older kernel gets a clear startup error rather than a weaker fallback.)

Calls that act on a name rather than an open file (``unlink``, ``mkdir``, ``rename``, ``lstat``)
resolve the *parent* directory that way to an ``O_PATH`` fd, then use the ``*at`` call on the last
component with no-follow semantics, which is also confined.
"""

from __future__ import annotations

import ctypes
import os
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager

from lind_async.abi.errno import EINVAL, EMFILE, ENFILE, ENOENT, GuestError
from lind_async.rawposix import hostfds

_SYS_OPENAT2 = 437
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


class _OpenHow(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64))


class RootUnsupported(RuntimeError):
    """The host kernel cannot confine paths (no openat2)."""


def guest_join(cwd: bytes, path: bytes) -> bytes:
    """The guest path ``path`` as seen from ``cwd`` (not normalized; the kernel resolves it)."""
    if not path:
        raise GuestError(ENOENT)
    if path.startswith(b"/"):
        return path
    return cwd.rstrip(b"/") + b"/" + path


def split_parent(path: bytes) -> tuple[bytes, bytes]:
    """``(parent, last component)`` of a guest path; trailing slashes are ignored."""
    stripped = path.rstrip(b"/")
    if not stripped:
        return b"/", b"."
    parent, _, name = stripped.rpartition(b"/")
    if not _:
        return b".", name
    return parent or b"/", name


def lexical(path: bytes) -> bytes:
    """Lexically normalized absolute form (used only to recognise virtual device paths)."""
    return posixpath.normpath(path) if path.startswith(b"/") else path


class HostRoot:
    """The host directory cages see as ``/``."""

    __slots__ = ("fd", "path")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.realpath(path)
        if not os.path.isdir(self.path):
            raise NotADirectoryError(f"root is not a directory: {self.path}")
        self.fd = os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.close(self.open(b"/", os.O_PATH | os.O_DIRECTORY))
        except OSError as exc:
            os.close(self.fd)
            raise RootUnsupported(
                "this kernel lacks openat2(RESOLVE_IN_ROOT) (Linux >= 5.6 is required)"
            ) from exc

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def open(self, path: bytes, host_flags: int, mode: int = 0) -> int:
        """Open ``path`` (a guest path) confined to the root; returns a host fd (CLOEXEC)."""
        if b"\0" in path:
            raise GuestError(EINVAL)
        creating = host_flags & (os.O_CREAT | os.O_TMPFILE)
        how = _OpenHow(
            host_flags | os.O_CLOEXEC,
            mode & 0o7777 if creating else 0,
            _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS,
        )
        fd = int(_syscall(_SYS_OPENAT2, self.fd, path, ctypes.byref(how), ctypes.sizeof(how)))
        if fd < 0:
            err = ctypes.get_errno()
            raise GuestError(ENFILE) if err == EMFILE else OSError(err, os.strerror(err))
        return hostfds.admit(fd)  # never into the host fds kept for the microvisor

    def guest_path_of(self, host_fd: int) -> bytes | None:
        """The guest path of an open host fd inside the root (None if it has none any more)."""
        try:
            target = os.readlink(f"/proc/self/fd/{host_fd}").encode()
        except OSError:
            return None
        root = os.fsencode(self.path)
        if target == root:
            return b"/"
        if not target.startswith(root.rstrip(b"/") + b"/") or target.endswith(b" (deleted)"):
            return None
        return target[len(root.rstrip(b"/")) :]

    @contextmanager
    def parent(self, path: bytes) -> Iterator[tuple[int, bytes]]:
        """An ``O_PATH`` fd of ``path``'s parent directory (confined) and the last component."""
        parent, name = split_parent(path)
        dir_fd = self.open(parent, os.O_PATH | os.O_DIRECTORY)
        try:
            yield dir_fd, name
        finally:
            os.close(dir_fd)


# -- host calls Python's os module lacks (raw syscalls; arguments are host fds and names) --------
_SYS_RENAMEAT2 = 316
_SYS_UTIMENSAT = 280
_SYS_FALLOCATE = 285
_SYS_SYNC_FILE_RANGE = 277
_SYS_FSTATFS = 138


def _long(value: int) -> ctypes.c_long:
    return ctypes.c_long(value)


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def renameat2(old_dir: int, old: bytes, new_dir: int, new: bytes, flags: int) -> None:
    _check(int(_syscall(_SYS_RENAMEAT2, _long(old_dir), old, _long(new_dir), new, _long(flags))))


def utimensat(dir_fd: int, name: bytes | None, times: tuple[int, int, int, int] | None,
              flags: int) -> None:
    """``utimensat``: ``times`` is (atime sec, nsec, mtime sec, nsec) with UTIME_* nsec values."""
    buf = (ctypes.c_int64 * 4)(*times) if times is not None else None
    _check(int(_syscall(_SYS_UTIMENSAT, _long(dir_fd), name, buf, _long(flags))))


def fallocate(fd: int, mode: int, offset: int, length: int) -> int:
    return _check(int(_syscall(
        _SYS_FALLOCATE, _long(fd), _long(mode), _long(offset), _long(length)
    )))


def sync_file_range(fd: int, offset: int, nbytes: int, flags: int) -> int:
    return _check(int(_syscall(
        _SYS_SYNC_FILE_RANGE, _long(fd), _long(offset), _long(nbytes), _long(flags)
    )))


def fstatfs(fd: int) -> tuple[int, ...]:
    """The host's ``struct statfs`` (x86_64: fifteen 64-bit words) of an fd (O_PATH works)."""
    buf = (ctypes.c_int64 * 15)()
    _check(int(_syscall(_SYS_FSTATFS, _long(fd), buf)))
    return tuple(buf)
