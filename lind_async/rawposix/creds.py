"""RawPOSIX credential calls: get/set real, effective, saved and filesystem uids and gids and the
supplementary groups, over the per-cage model of ``core/creds.py`` (bookkeeping and the signal
permission rule: the host still checks files with the host user's rights)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, GuestError
from lind_async.core.creds import NGROUPS_MAX, Creds
from lind_async.rawposix.args import i32, pointer
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_ID3 = struct.Struct("<III")


def _creds(cage: CageView) -> Creds:
    return cage.world.authority.creds.get(cage.cage_id)


def _change(cage: CageView, change: Callable[[Creds], Creds]) -> int:
    table = cage.world.authority.creds
    table.set(cage.cage_id, change(table.get(cage.cage_id)))
    return 0


def sys_getuid(cage: CageView, *_: int) -> int:
    return _creds(cage).ruid


def sys_geteuid(cage: CageView, *_: int) -> int:
    return _creds(cage).euid


def sys_getgid(cage: CageView, *_: int) -> int:
    return _creds(cage).rgid


def sys_getegid(cage: CageView, *_: int) -> int:
    return _creds(cage).egid


def sys_getresuid(cage: CageView, ruid: int, euid: int, suid: int, *_: int) -> int:
    creds = _creds(cage)
    for addr, value in ((ruid, creds.ruid), (euid, creds.euid), (suid, creds.suid)):
        cage.mem.write_u32(pointer(addr), value)
    return 0


def sys_getresgid(cage: CageView, rgid: int, egid: int, sgid: int, *_: int) -> int:
    creds = _creds(cage)
    for addr, value in ((rgid, creds.rgid), (egid, creds.egid), (sgid, creds.sgid)):
        cage.mem.write_u32(pointer(addr), value)
    return 0


def sys_getgroups(cage: CageView, count: int, groups: int, *_: int) -> int:
    have = _creds(cage).groups
    room = i32(count)
    if room < 0:
        raise GuestError(EINVAL)
    if room == 0:
        return len(have)
    if room < len(have):
        raise GuestError(EINVAL)
    if have:
        cage.mem.write(pointer(groups), struct.pack(f"<{len(have)}I", *have))
    return len(have)


def sys_setgroups(cage: CageView, count: int, groups: int, *_: int) -> int:
    n = i32(count)
    if not 0 <= n <= NGROUPS_MAX:
        raise GuestError(EINVAL)
    values = struct.unpack(f"<{n}I", cage.mem.read(pointer(groups), 4 * n)) if n else ()
    return _change(cage, lambda c: c.setgroups(tuple(values)))


def sys_setuid(cage: CageView, uid: int, *_: int) -> int:
    return _change(cage, lambda c: c.setuid(uid))


def sys_setgid(cage: CageView, gid: int, *_: int) -> int:
    return _change(cage, lambda c: c.setgid(gid))


def sys_setreuid(cage: CageView, ruid: int, euid: int, *_: int) -> int:
    return _change(cage, lambda c: c.setreuid(ruid, euid))


def sys_setregid(cage: CageView, rgid: int, egid: int, *_: int) -> int:
    return _change(cage, lambda c: c.setregid(rgid, egid))


def sys_setresuid(cage: CageView, ruid: int, euid: int, suid: int, *_: int) -> int:
    return _change(cage, lambda c: c.setresuid(ruid, euid, suid))


def sys_setresgid(cage: CageView, rgid: int, egid: int, sgid: int, *_: int) -> int:
    return _change(cage, lambda c: c.setresgid(rgid, egid, sgid))


def sys_setfsuid(cage: CageView, fsuid: int, *_: int) -> int:
    old = _creds(cage).fsuid
    _change(cage, lambda c: c.setfsuid(fsuid))
    return old


def sys_setfsgid(cage: CageView, fsgid: int, *_: int) -> int:
    old = _creds(cage).fsgid
    _change(cage, lambda c: c.setfsgid(fsgid))
    return old


_NOTE = "per-cage bookkeeping (core/creds.py); files keep the host user's rights"
ROWS: list[Row] = [
    (nr.SYS_getuid, sys_getuid, Support.FULL, ""),
    (nr.SYS_geteuid, sys_geteuid, Support.FULL, ""),
    (nr.SYS_getgid, sys_getgid, Support.FULL, ""),
    (nr.SYS_getegid, sys_getegid, Support.FULL, ""),
    (nr.SYS_getresuid, sys_getresuid, Support.FULL, ""),
    (nr.SYS_getresgid, sys_getresgid, Support.FULL, ""),
    (nr.SYS_getgroups, sys_getgroups, Support.FULL, ""),
    (nr.SYS_setgroups, sys_setgroups, Support.PARTIAL, _NOTE),
    (nr.SYS_setuid, sys_setuid, Support.PARTIAL, _NOTE),
    (nr.SYS_setgid, sys_setgid, Support.PARTIAL, _NOTE),
    (nr.SYS_setreuid, sys_setreuid, Support.PARTIAL, _NOTE),
    (nr.SYS_setregid, sys_setregid, Support.PARTIAL, _NOTE),
    (nr.SYS_setresuid, sys_setresuid, Support.PARTIAL, _NOTE),
    (nr.SYS_setresgid, sys_setresgid, Support.PARTIAL, _NOTE),
    (nr.SYS_setfsuid, sys_setfsuid, Support.PARTIAL, _NOTE),
    (nr.SYS_setfsgid, sys_setfsgid, Support.PARTIAL, _NOTE),
]
