"""Files RawPOSIX makes up rather than opens on the host: the bases of ``/proc`` and overlay files.

A :class:`SnapshotFile` is read-only bytes taken when it was opened (an ``/etc`` entry of the
default root, a ``/proc`` text), read with an offset of its own; a write fails with the errno its
subclass names. A :class:`SnapshotDirectory` is a directory whose listing is taken at the first
``getdents`` and retaken when the cursor goes back to 0 (``rewinddir``), as Linux does for
``/proc``. Subclasses give ``stat`` and the entries.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

from lind_async.abi.errno import EACCES, EINVAL, GuestError
from lind_async.rawposix.files import DirEntry, FileOps

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView


class SnapshotFile(FileOps):
    """Read-only bytes with an offset; writes fail with :attr:`write_errno`."""

    __slots__ = ("_data", "pos")
    write_errno: ClassVar[int] = EACCES

    def __init__(self, data: bytes, status_flags: int) -> None:
        super().__init__(status_flags)
        self._data = data
        self.pos = 0

    def read_into(self, cage: CageView, view: memoryview) -> int:
        n = self.pread_into(view, self.pos)
        self.pos += n
        return n

    def pread_into(self, view: memoryview, offset: int) -> int:
        chunk = self._data[offset:offset + len(view)]
        view[:len(chunk)] = chunk
        return len(chunk)

    def write_from(self, cage: CageView, view: memoryview) -> int:
        raise GuestError(self.write_errno)

    def pwrite_from(self, view: memoryview, offset: int) -> int:
        raise GuestError(self.write_errno)

    def seek(self, offset: int, whence: int) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.pos, os.SEEK_END: len(self._data)}.get(whence)
        if base is None or base + offset < 0:
            raise GuestError(EINVAL)
        self.pos = base + offset
        return self.pos

    def bytes_readable(self) -> int:
        return max(0, len(self._data) - self.pos)


class SnapshotDirectory(FileOps):
    """A made-up directory: :meth:`entries` listed once per pass of the cursor."""

    __slots__ = ("_snapshot", "dir_cursor")

    def __init__(self, status_flags: int) -> None:
        super().__init__(status_flags)
        self._snapshot: list[DirEntry] | None = None
        self.dir_cursor = 0

    def readable(self) -> bool:
        return False

    def entries(self) -> list[DirEntry]:
        raise NotImplementedError

    def dir_entries(self) -> list[DirEntry]:
        if self._snapshot is None:
            self._snapshot = self.entries()
        return self._snapshot

    def seek(self, offset: int, whence: int) -> int:
        if whence == os.SEEK_CUR and offset == 0:
            return self.dir_cursor
        if whence != os.SEEK_SET or offset < 0:
            raise GuestError(EINVAL)
        self.dir_cursor = offset
        if offset == 0:
            self._snapshot = None
        return offset
