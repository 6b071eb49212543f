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

**The private /tmp** (the default root, ``overlay.py``): when the root has no ``/tmp`` entry, a
guest path whose lexical form is ``/tmp`` or under it is resolved the same way from a second
root, a directory the microvisor creates on first use (``mkdtemp``, mode 0700, never inside the
user's root) and removes when it closes. Both roots confine: ``..`` at the top of ``/tmp`` stays
there and a symlink in it resolves inside it. Renames between the two are host renames between two
directories of ours (or ``EXDEV`` across filesystems).
"""

from __future__ import annotations

import ctypes
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from lind_async.abi.errno import EBUSY, EINVAL, EMFILE, ENFILE, ENOENT, EROFS, GuestError
from lind_async.rawposix import hostfds

_SYS_OPENAT2 = 437
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


class _OpenHow(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64))


_HOW_SIZE = ctypes.sizeof(_OpenHow)
# ``struct open_how`` by (host flags, mode), built once each: a program opens with few of them.
_hows: dict[tuple[int, int], ctypes.c_void_p] = {}


def _open_how(host_flags: int, mode: int) -> ctypes.c_void_p:
    creating = host_flags & (os.O_CREAT | os.O_TMPFILE)
    how = _OpenHow(
        host_flags | os.O_CLOEXEC,
        mode & 0o7777 if creating else 0,
        _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS,
    )
    if len(_hows) >= 64:
        _hows.clear()
    # the pointer keeps ``how`` alive (its _objects) for as long as it is cached
    pointer = _hows[(host_flags, mode)] = ctypes.cast(ctypes.pointer(how), ctypes.c_void_p)
    return pointer


# ``open_stat(root_fd, path, host_flags, mode) -> (fd, st_mode, (st_dev, st_ino))`` or
# ``(-errno, 0, None)``: the compiled helper's openat2 (as _open_here's) and fstat in one call,
# when the runtime has it (native/syscall_entry.c); else ctypes' openat2 and os.fstat.
Opened = tuple[int, int, tuple[int, int]]  # (host fd, st_mode, (st_dev, st_ino))
OpenStat = Callable[[int, bytes, int, int], Opened]
native_open_stat: OpenStat | None = None


def use_open_stat(function: OpenStat) -> None:
    global native_open_stat
    native_open_stat = function


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
    name = _lexical.get(path)
    if name is None:
        name = posixpath.normpath(path) if path.startswith(b"/") else path
        if len(_lexical) >= 256:
            _lexical.clear()
        _lexical[path] = name
    return name


# lexical() by path: a pure function of the bytes, and a program opens the same few paths again
# and again (normpath costs a microsecond; a hit, a dict lookup).
_lexical: dict[bytes, bytes] = {}


class HostRoot:
    """The host directory cages see as ``/``."""

    __slots__ = ("_tmp", "fd", "path")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._tmp: HostRoot | None = None
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
        if self._tmp is not None:
            tmp, self._tmp = self._tmp, None
            tmp.close()
            shutil.rmtree(tmp.path, ignore_errors=True)

    def _tmp_is_private(self) -> bool:
        return not self.exists(b"/tmp")

    def exists(self, path: bytes) -> bool:
        """Is there an entry (of any kind, not followed) at the guest ``path`` in this root?"""
        try:
            os.close(self._open_here(path, os.O_PATH | os.O_NOFOLLOW))
        except OSError:
            return False
        return True

    def open(self, path: bytes, host_flags: int, mode: int = 0) -> int:
        """Open ``path`` (a guest path) confined to the root; returns a host fd (CLOEXEC)."""
        if b"\0" in path:
            raise GuestError(EINVAL)
        if path.startswith(b"/tmp"):  # the only paths the private /tmp may take
            routed = self._private_tmp(path)
            if routed is not None:
                where, inside = routed
                return where._open_here(inside, host_flags, mode) if where is self else (
                    where.open(inside, host_flags, mode))
        return self._open_here(path, host_flags, mode)

    def open_stat(self, path: bytes, host_flags: int, mode: int = 0) -> Opened:
        """:meth:`open`, and the new fd's type and identity: ``(fd, st_mode, (dev, ino))``."""
        native = native_open_stat
        if native is not None and not path.startswith(b"/tmp") and b"\0" not in path:
            found = native(self.fd, path, host_flags, mode)
            if not 0 <= found[0] < hostfds._ceiling:  # (hostfds.admit, inline)
                self.refused(found[0])
            return found
        fd = self.open(path, host_flags, mode)
        try:
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd, st.st_mode, (st.st_dev, st.st_ino)

    @staticmethod
    def refused(fd: int) -> NoReturn:
        """``open_stat``'s answer ``fd`` is no fd to keep: ``-errno`` (the host's ``EMFILE``
        is the cage's ``ENFILE``), or one in the microvisor's reserve (closed: ``ENFILE``)."""
        if fd >= 0:
            hostfds.admit(fd)  # closes it and raises ENFILE
        err = -fd
        raise GuestError(ENFILE) if err == EMFILE else OSError(err, os.strerror(err))

    def _private_tmp(self, path: bytes) -> tuple[HostRoot, bytes] | None:
        """Where a path through the private ``/tmp`` resolves: ``(its root, the path there)``
        for one under it, ``(this root, the lexical path)`` for one that leaves it with ``..``
        (the kernel cannot walk a ``tmp`` the root lacks), None for any other path."""
        if not path.startswith(b"/tmp") or (len(path) > 4 and path[4:5] != b"/"):
            return None
        name = posixpath.normpath(path)
        if name.startswith(b"//"):
            name = name[1:]
        if self.exists(b"/tmp"):
            return None  # a real /tmp always wins
        if name != b"/tmp" and not name.startswith(b"/tmp/"):
            return self, name  # /tmp/.. and the like: lexically, as the directory is ours
        if self._tmp is None:
            self._tmp = HostRoot(tempfile.mkdtemp(prefix="lind-tmp-"))
        return self._tmp, name[4:] or b"/"

    def _open_here(self, path: bytes, host_flags: int, mode: int = 0) -> int:
        how = _hows.get((host_flags, mode))
        if how is None:
            how = _open_how(host_flags, mode)
        fd = int(_syscall(_SYS_OPENAT2, self.fd, path, how, _HOW_SIZE))
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
        if self._tmp is not None:
            inside = _below(os.fsencode(self._tmp.path), target)
            if inside is not None:
                return b"/tmp" + (b"" if inside == b"/" else inside)
        return _below(os.fsencode(self.path), target)

    @contextmanager
    def parent(self, path: bytes, *, changing: bool = True) -> Iterator[tuple[int, bytes]]:
        """An ``O_PATH`` fd of ``path``'s parent directory (confined) and the last component.
        ``changing``: the caller changes the name; a name the default root's overlay provides
        (and the root lacks) is then ``EROFS``, and the private ``/tmp`` itself ``EBUSY``."""
        from lind_async.rawposix import overlay

        parent, name = split_parent(path)
        if not changing:
            dir_fd = self.open(parent, os.O_PATH | os.O_DIRECTORY)
            try:
                yield dir_fd, name
            finally:
                os.close(dir_fd)
            return
        normal = lexical(path)
        overlaid = (overlay.provides(normal) and normal != b"/tmp") or overlay.under_synthetic(
            normal
        )
        if overlaid and not self.exists(normal) and not self.exists(lexical(parent)):
            raise GuestError(EROFS)  # inside a synthetic /etc or /dev
        if normal == b"/tmp" and self._tmp_is_private():
            raise GuestError(EBUSY)  # the private /tmp itself: a mount point, as it were
        dir_fd = self.open(parent, os.O_PATH | os.O_DIRECTORY)
        try:
            yield dir_fd, name
        except FileNotFoundError:
            if overlay.provides(normal) and normal != b"/tmp" and not self.exists(normal):
                raise GuestError(EROFS) from None
            raise
        finally:
            os.close(dir_fd)


def _below(root: bytes, target: bytes) -> bytes | None:
    """``target`` (a host path) as a path below ``root``, or None."""
    if target == root:
        return b"/"
    if not target.startswith(root.rstrip(b"/") + b"/") or target.endswith(b" (deleted)"):
        return None
    return target[len(root.rstrip(b"/")) :]


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
