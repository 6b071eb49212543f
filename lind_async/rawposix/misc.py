"""RawPOSIX miscellany: uname, getrandom."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, GuestError
from lind_async.rawposix.args import i32, pointer, size
from lind_async.rawposix.structs import UTSNAME_FIELD
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

GETRANDOM_MAX = 33_554_431  # Linux returns at most this much per call


def _uts(value: str) -> bytes:
    data = value.encode()[: UTSNAME_FIELD - 1]
    return data + bytes(UTSNAME_FIELD - len(data))


def sys_uname(cage: CageView, buf: int, *_: int) -> int:
    host = os.uname()
    record = b"".join(
        _uts(v) for v in ("Linux", "lind", host.release, "#1 lind_async", "wasm32", "(none)")
    )
    cage.mem.write(pointer(buf), record)
    return 0


def sys_getrandom(cage: CageView, buf: int, length: int, flags: int, *_: int) -> int:
    if i32(flags) & ~(F.GRND_NONBLOCK | F.GRND_RANDOM | 4):  # 4: GRND_INSECURE
        raise GuestError(EINVAL)
    n = min(size(length), GETRANDOM_MAX)
    view = cage.mem.slice(pointer(buf), n)
    view[:] = os.urandom(n)
    return n


ROWS: list[Row] = [
    (nr.SYS_uname, sys_uname, Support.FULL, ""),
    (nr.SYS_getrandom, sys_getrandom, Support.FULL, ""),
]
