"""The virtual character devices RawPOSIX serves itself: ``/dev/null``, ``/dev/zero``,
``/dev/urandom`` and ``/dev/random`` (:data:`DEVICES`, by guest path). They never touch the root.
"""

from __future__ import annotations

import os
import stat as stat_mod
from typing import TYPE_CHECKING

from lind_async.rawposix import fastio
from lind_async.rawposix.files import FileOps

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView


class NullDevice(FileOps):
    """``/dev/null``: reads see EOF, writes vanish. The compiled trampoline serves its reads,
    writes and seeks itself (``rawposix/fastio.py``; its access mode never changes after open)."""

    __slots__ = ()

    def __init__(self, status_flags: int) -> None:
        super().__init__(status_flags)
        if type(self) is NullDevice:
            self.fast = fastio.null_record(self.readable(), self.writable())

    def read_into(self, cage: CageView, view: memoryview) -> int:
        return 0

    def write_from(self, cage: CageView, view: memoryview) -> int:
        return len(view)

    def pread_into(self, view: memoryview, offset: int) -> int:
        return 0

    def pwrite_from(self, view: memoryview, offset: int) -> int:
        return len(view)

    def seek(self, offset: int, whence: int) -> int:
        return 0

    def stat(self) -> os.stat_result:
        return _char_device_stat(1, 3)


class ZeroDevice(NullDevice):
    """``/dev/zero``: reads see zeros."""

    __slots__ = ()

    def read_into(self, cage: CageView, view: memoryview) -> int:
        return self.pread_into(view, 0)

    def pread_into(self, view: memoryview, offset: int) -> int:
        view[:] = bytes(len(view))
        return len(view)

    def stat(self) -> os.stat_result:
        return _char_device_stat(1, 5)


class RandomDevice(NullDevice):
    """``/dev/urandom`` and ``/dev/random``: reads see host randomness."""

    __slots__ = ()

    def read_into(self, cage: CageView, view: memoryview) -> int:
        return self.pread_into(view, 0)

    def pread_into(self, view: memoryview, offset: int) -> int:
        view[:] = os.urandom(len(view))
        return len(view)

    def stat(self) -> os.stat_result:
        return _char_device_stat(1, 9)


DEVICES: dict[bytes, type[FileOps]] = {
    b"/dev/null": NullDevice,
    b"/dev/zero": ZeroDevice,
    b"/dev/urandom": RandomDevice,
    b"/dev/random": RandomDevice,
}


def _char_device_stat(major: int, minor: int) -> os.stat_result:
    mode = stat_mod.S_IFCHR | 0o666
    rdev = os.makedev(major, minor)
    # st_mode, st_ino, st_dev, st_nlink, st_uid, st_gid, st_size, atime, mtime, ctime + extras
    return os.stat_result((mode, major * 256 + minor, 5, 1, 0, 0, 0, 0, 0, 0), {"st_rdev": rdev})
