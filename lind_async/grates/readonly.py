"""``readonly:PATH``: the tree under PATH (a path inside the cage's root) is read-only.

Opening a file there for writing (``O_WRONLY``, ``O_RDWR``, ``O_CREAT``, ``O_TRUNC``, ``O_APPEND``,
``O_TMPFILE``), ``creat``, ``unlink``, ``rmdir``, ``mkdir``, ``mknod``, ``rename`` and ``link``
(either end inside), ``symlink`` (the new name), ``truncate`` and the metadata changes (``chmod``,
``chown``, ``utimes``…) fail with ``EROFS``; reading works, and so does everything outside PATH.

Paths are resolved as the kernel would: relative to the cwd or the ``*at`` directory fd,
``..`` and symlinks (inside the cage's root) followed, so a link from elsewhere into PATH does
not get around it. The check is made just before the call is forwarded, so a program that
swaps a symlink between the two can race it; a directory fd whose path is unknown is refused.
Calls on an fd need no check: no fd under PATH can have been opened for writing while the
grate was there. The grate also sees the confined cage's 3i routing calls and refuses any that
would re-route a call it judges (``EPERM``).
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Iterable

from lind_async.abi import flags as F
from lind_async.threei.python_grates import (
    ROUTING_CALLS,
    Call,
    Forward,
    Grate,
    reroutes,
    syscall_number,
)

_WRITE_FLAGS = F.O_CREAT | F.O_TRUNC | F.O_APPEND | (F.O_TMPFILE & ~F.O_DIRECTORY)
_MAX_LINKS = 40

# name -> (dirfd index or None, path index, follow the last symlink?) for each path it changes.
_MUTATIONS: dict[str, tuple[tuple[int | None, int, bool], ...]] = {
    "creat": ((None, 0, True),),
    "unlink": ((None, 0, False),),
    "unlinkat": ((0, 1, False),),
    "rmdir": ((None, 0, False),),
    "mkdir": ((None, 0, False),),
    "mkdirat": ((0, 1, False),),
    "mknod": ((None, 0, False),),
    "mknodat": ((0, 1, False),),
    "rename": ((None, 0, False), (None, 1, False)),
    "renameat": ((0, 1, False), (2, 3, False)),
    "renameat2": ((0, 1, False), (2, 3, False)),
    "link": ((None, 0, True), (None, 1, False)),
    "linkat": ((0, 1, True), (2, 3, False)),
    "symlink": ((None, 1, False),),
    "symlinkat": ((1, 2, False),),
    "truncate": ((None, 0, True),),
    "chmod": ((None, 0, True),),
    "fchmodat": ((0, 1, True),),
    "chown": ((None, 0, True),),
    "lchown": ((None, 0, False),),
    "fchownat": ((0, 1, True),),
    "utime": ((None, 0, True),),
    "utimes": ((None, 0, True),),
    "utimensat": ((0, 1, True),),
    "futimesat": ((0, 1, True),),
    "setxattr": ((None, 0, True),),
    "lsetxattr": ((None, 0, False),),
    "removexattr": ((None, 0, True),),
    "lremovexattr": ((None, 0, False),),
}
# name -> (dirfd index or None, path index, flags index)
_OPENS: dict[str, tuple[int | None, int, int]] = {"open": (None, 0, 1), "openat": (0, 1, 2)}


class Refused(Exception):
    """The path cannot be resolved safely: treat it as inside."""


class ReadOnly(Grate):
    """Make ``path`` (a guest path) and everything under it read-only."""

    name = "readonly"

    def __init__(self, path: str) -> None:
        if not path.startswith("/"):
            raise ValueError(f"readonly: {path!r} is not an absolute path (inside the root)")
        self.path = posixpath.normpath(path).encode()

    @classmethod
    def from_arg(cls, arg: str | None) -> ReadOnly:
        if not arg:
            raise ValueError("readonly needs a path: --grate readonly:PATH")
        return cls(arg)

    def numbers(self) -> Iterable[int]:
        return [*self._governed(), *ROUTING_CALLS]

    def _governed(self) -> list[int]:
        return [syscall_number(n) for n in (*_MUTATIONS, *_OPENS, "openat2")]

    def syscall(self, call: Call) -> int | Forward:
        if call.number in ROUTING_CALLS:
            return -errno.EPERM if reroutes(call, self._governed()) else call.forward()
        name = call.name
        if name == "openat2":
            return -errno.ENOSYS  # its flags live in a struct; not judged, so not allowed
        opening = _OPENS.get(name)
        if opening is not None:
            dirfd, path, flags = opening
            value = call.int(flags)
            writes = value & F.O_ACCMODE != F.O_RDONLY or value & _WRITE_FLAGS
            if writes and self._inside(call, dirfd, path, not value & F.O_NOFOLLOW):
                return -errno.EROFS
            return call.forward()
        for dirfd, path, follow in _MUTATIONS.get(name, ()):
            if name == "unlinkat" and call.int(2) & F.AT_REMOVEDIR:
                follow = False
            if self._inside(call, dirfd, path, follow):
                return -errno.EROFS
        return call.forward()

    def _inside(self, call: Call, dirfd: int | None, path_index: int, follow: bool) -> bool:
        try:
            path = self._resolve(call, dirfd, path_index, follow)
        except Refused:
            return True
        return path == self.path or path.startswith(self.path.rstrip(b"/") + b"/")

    def _resolve(self, call: Call, dirfd: int | None, path_index: int, follow: bool) -> bytes:
        """The guest path ``(dirfd, path)`` names, with ``..`` and symlinks resolved."""
        path = call.path(path_index)
        if not path.startswith(b"/"):
            fd = F.AT_FDCWD if dirfd is None else call.fd(dirfd)
            if fd == F.AT_FDCWD:
                base = call.origin.cwd
            else:
                known = getattr(call.origin.fds.file(fd), "guest_path", None)
                if not isinstance(known, bytes):
                    raise Refused
                base = known
            path = base.rstrip(b"/") + b"/" + path
        root = os.fsencode(call.mv.root.path)
        return _walk(root, path, follow)


def _walk(root: bytes, path: bytes, follow_last: bool) -> bytes:
    """Resolve ``path`` component by component inside the host directory ``root`` (the cage's
    ``/``): absolute symlinks restart at the cage's root, ``..`` never leaves it."""
    done: list[bytes] = []
    todo = [p for p in path.split(b"/") if p]
    links = 0
    while todo:
        part = todo.pop(0)
        if part == b".":
            continue
        if part == b"..":
            if done:
                done.pop()
            continue
        candidate = b"/" + b"/".join([*done, part])
        if todo or follow_last:
            try:
                target = os.readlink(root + candidate)
            except OSError:
                target = None
            if target is not None:
                links += 1
                if links > _MAX_LINKS:
                    raise Refused
                if target.startswith(b"/"):
                    done = []
                todo = [p for p in target.split(b"/") if p] + todo
                continue
        done.append(part)
    return b"/" + b"/".join(done)
