"""Kinds of open file description RawPOSIX hands out, and what each can do.

Every method either completes now (returns an ``int``) or returns an awaitable when it must wait
(``SysResult``); the dispatcher passes either through unchanged. Operations that may wait take the
calling cage, whose signals can interrupt the wait. ``view`` arguments are zero-copy
windows onto guest memory (already bounds-checked): host reads land directly in the cage's memory.
The base class answers every operation as Linux does for a description that cannot do it.

The kinds live beside it: ``host_file.py`` (files inside the root), ``host_stream.py`` (host
stdio), ``devices.py`` (``/dev/null`` and friends), and each family's own (pipes, sockets, ...).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lind_async.abi.errno import EBADF, EINVAL, ENOTTY, ESPIPE, GuestError
from lind_async.abi.flags import (
    POLLIN,
    POLLOUT,
    POLLRDNORM,
    POLLWRNORM,
    reads,
    writes,
)
from lind_async.core.fdtable import OpenFile
from lind_async.rawposix.readiness import NO_WATCH, Cancel, Wake

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

SysResult = int | Awaitable[int]


@dataclass(slots=True)
class DirEntry:
    name: bytes
    inode: int
    dtype: int


class FileOps(OpenFile):
    """Base open file description with Linux's answers for unsupported operations."""

    __slots__ = ()
    level_watch: ClassVar[bool] = False  # watch() is the loop's level-triggered host-fd watch

    def readable(self) -> bool:
        return reads(self.status_flags)

    def writable(self) -> bool:
        return writes(self.status_flags)

    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        raise GuestError(EINVAL)

    def write_from(self, cage: CageView, view: memoryview) -> SysResult:
        raise GuestError(EINVAL)

    def pread_into(self, view: memoryview, offset: int) -> SysResult:
        raise GuestError(ESPIPE)

    def pwrite_from(self, view: memoryview, offset: int) -> int:
        raise GuestError(ESPIPE)

    def seek(self, offset: int, whence: int) -> int:
        raise GuestError(ESPIPE)

    def preadv_at(self, views: list[memoryview], offset: int, flags: int) -> SysResult:
        """``preadv2`` at ``offset`` (``flags``: checked ``RWF_*`` bits, ignored by default)."""
        return positional(views, offset, self.pread_into)

    def pwritev_at(self, views: list[memoryview], offset: int, flags: int) -> SysResult:
        """``pwritev2`` at ``offset`` (-1: the file position, only with ``flags``)."""
        if offset == -1:
            raise GuestError(ESPIPE)
        return positional(views, offset, self.pwrite_from)

    def stat(self) -> os.stat_result:
        raise GuestError(EBADF)

    def is_tty(self) -> bool:
        return False

    def winsize(self) -> tuple[int, int, int, int]:
        raise GuestError(ENOTTY)

    def dir_entries(self) -> list[DirEntry]:
        raise GuestError(EBADF)

    def bytes_readable(self) -> int:
        """``FIONREAD``: bytes a read would return now (``ENOTTY`` where Linux has no answer)."""
        raise GuestError(ENOTTY)

    def poll_mask(self) -> int:
        """Readiness now (``POLL*`` bits); see rawposix/readiness.py. Files: always ready."""
        return ALWAYS_READY

    def watch(self, events: int, wake: Wake) -> Cancel:
        """Call ``wake`` when ``poll_mask()`` may have changed for ``events``; returns a cancel."""
        return NO_WATCH

    def lock_key(self) -> tuple[int, int] | None:
        """The file's identity for flock/fcntl locks (host ``st_dev``, ``st_ino``)."""
        try:
            st = self.stat()
        except (GuestError, OSError):
            return None
        return st.st_dev, st.st_ino

    def release(self) -> None:
        """The last descriptor closed: free host resources."""


ALWAYS_READY = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM

Positional = Callable[[memoryview, int], SysResult]


def positional(views: list[memoryview], offset: int, op: Positional) -> SysResult:
    """``op(view, at)`` for each view at increasing offsets, stopping at the first short transfer
    (Linux's count for ``preadv``/``pwritev``). Completes now, or as an awaitable from the first
    transfer that must wait."""
    total = 0
    for index, view in enumerate(views):
        if not len(view):
            continue
        result = op(view, offset + total)
        if result.__class__ is not int:
            return _positional_rest(views, index, offset, total, result, op)  # type: ignore[arg-type]
        moved: int = result
        total += moved
        if moved < len(view):
            break
    return total


async def _positional_rest(
    views: list[memoryview], index: int, offset: int, total: int, pending: Awaitable[int],
    op: Positional,
) -> int:
    moved = await pending
    total += moved
    if moved < len(views[index]):
        return total
    for view in views[index + 1:]:
        if not len(view):
            continue
        result = op(view, offset + total)
        moved = result if isinstance(result, int) else await result
        total += moved
        if moved < len(view):
            break
    return total
