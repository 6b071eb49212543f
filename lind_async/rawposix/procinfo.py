"""Read-only ``/proc`` text files servers read for metrics and start-up checks, ``sysinfo``, and
``prctl``'s process name and dumpable flag.

- ``/proc/self/{stat,status,cmdline,comm}`` (also ``/proc/<own pid>/...``): the calling cage's own
  view in Linux's formats (pid, comm, state, parent, group, session, credentials from
  ``core/creds.py``, threads, memory); fields the runtime does not track (faults, CPU ticks,
  start time) are 0;
- ``/proc/meminfo``, ``/proc/loadavg``, ``/proc/uptime``: the host's figures (only the usual
  ``meminfo`` keys);
- ``/proc/sys/kernel/{pid_max,ngroups_max,ostype,osrelease}``, ``/proc/sys/net/core/somaxconn``,
  ``/proc/sys/fs/file-max``.

Each open takes a snapshot of the text (as Linux's seq files do for a small read); the files are
never writable (``EACCES``, as for an unprivileged process). Names are matched lexically, like
the rest of ``procfs.py``; nothing reaches the root or the host's ``/proc`` by a guest path.
"""

from __future__ import annotations

import os
import re
import stat as stat_mod
import struct
import time
import weakref
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EACCES, EINVAL, ENOENT, GuestError
from lind_async.abi.flags import O_ACCMODE, O_RDONLY
from lind_async.rawposix.args import i32, pointer
from lind_async.rawposix.synthetic import SnapshotFile
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_SELF = re.compile(rb"^/proc/(self|\d+)/(stat|status|cmdline|comm)$")
_INO = 0x7D000000
_PAGE = 4096
_TASK_COMM_LEN = 16
_SYS: dict[bytes, bytes] = {
    b"/proc/sys/kernel/pid_max": b"4194304\n",
    b"/proc/sys/kernel/ngroups_max": b"65536\n",
    b"/proc/sys/kernel/ostype": b"Linux\n",
    b"/proc/sys/net/core/somaxconn": b"4096\n",
    b"/proc/sys/fs/file-max": b"9223372036854775807\n",
}
_HOST = (b"/proc/meminfo", b"/proc/loadavg", b"/proc/uptime", b"/proc/sys/kernel/osrelease")
_MEMINFO_KEYS = (
    b"MemTotal", b"MemFree", b"MemAvailable", b"Buffers", b"Cached", b"SwapTotal", b"SwapFree",
)


def _own(cage: CageView, path: bytes) -> str | None:
    """The file of ``/proc/self/NAME`` or ``/proc/<own pid>/NAME``, if ``path`` is one."""
    match = _SELF.match(path)
    if match is None:
        return None
    who = match.group(1)
    if who != b"self" and int(who) != cage.cage_id:
        return None
    return match.group(2).decode()


def is_info(path: bytes) -> bool:
    return path in _SYS or path in _HOST or _SELF.match(path) is not None


def text(cage: CageView, path: bytes) -> bytes:
    if path in _SYS:
        return _SYS[path]
    if path == b"/proc/meminfo":
        return _meminfo()
    if path in _HOST:
        with open(path, "rb") as host:  # a fixed host path, never one a guest names
            return host.read()
    name = _own(cage, path)
    if name is None:
        raise GuestError(ENOENT)  # another process's: not shown
    if name == "stat":
        return _stat(cage)
    if name == "status":
        return _status(cage)
    if name == "cmdline":
        return b"".join(arg + b"\0" for arg in cage.argv)
    return comm(cage) + b"\n"


def _meminfo() -> bytes:
    lines = []
    with open("/proc/meminfo", "rb") as host:
        for line in host:
            if line.split(b":", 1)[0] in _MEMINFO_KEYS:
                lines.append(line)
    return b"".join(lines)


def _memory(cage: CageView) -> int:
    try:
        return cage.mem.size
    except GuestError:
        return 0


def _stat(cage: CageView) -> bytes:
    procs = cage.world.procs
    proc = procs.get(cage.cage_id)
    vsize = _memory(cage)
    fields = [
        b"%d" % cage.cage_id, b"(" + comm(cage) + b")", b"R", b"%d" % proc.ppid,
        b"%d" % proc.pgid, b"%d" % proc.sid, b"0", b"-1", b"4194304",  # tty, tpgid, flags
        b"0", b"0", b"0", b"0", b"0", b"0", b"0", b"0",  # faults, utime, stime, cutime, cstime
        b"20", b"0", b"%d" % cage.threads.live(), b"0", b"0",  # prio, nice, threads, start
        b"%d" % vsize, b"%d" % (vsize // _PAGE), b"18446744073709551615",  # vsize, rss, rsslim
    ]
    fields += [b"0"] * (52 - len(fields))
    return b" ".join(fields) + b"\n"


def _status(cage: CageView) -> bytes:
    procs = cage.world.procs
    proc = procs.get(cage.cage_id)
    creds = cage.world.authority.creds.get(cage.cage_id)
    kb = _memory(cage) // 1024
    signals = cage.signals
    rows = [
        ("Name", comm(cage).decode(errors="replace")),
        ("Umask", f"{cage.umask:04o}"),
        ("State", "R (running)"),
        ("Tgid", str(cage.cage_id)),
        ("Pid", str(cage.cage_id)),
        ("PPid", str(proc.ppid)),
        ("TracerPid", "0"),
        ("Uid", f"{creds.ruid}\t{creds.euid}\t{creds.suid}\t{creds.fsuid}"),
        ("Gid", f"{creds.rgid}\t{creds.egid}\t{creds.sgid}\t{creds.fsgid}"),
        ("FDSize", "64"),
        ("Groups", "".join(f"{g} " for g in creds.groups)),
        ("VmPeak", f"{kb:8d} kB"),
        ("VmSize", f"{kb:8d} kB"),
        ("VmRSS", f"{kb:8d} kB"),
        ("Threads", str(cage.threads.live())),
        ("SigPnd", f"{signals.pending:016x}"),
        ("SigBlk", f"{signals.blocked:016x}"),
    ]
    return "".join(f"{key}:\t{value}\n" for key, value in rows).encode()


class ProcText(SnapshotFile):
    """An open ``/proc`` text file: a snapshot taken at open, read with an offset."""

    __slots__ = ("_ino",)
    write_errno = EACCES

    def __init__(self, data: bytes, ino: int, status_flags: int) -> None:
        super().__init__(data, status_flags)
        self._ino = ino

    def stat(self) -> os.stat_result:
        return info_stat(self._ino)


def _ino(path: bytes) -> int:
    return _INO + (hash(path) & 0xFFFFF)


def info_stat(ino: int) -> os.stat_result:
    """Like Linux's: a regular file of size 0, read-only."""
    return os.stat_result(
        (stat_mod.S_IFREG | 0o444, ino, 0x7F, 1, 0, 0, 0, 0, 0, 0), {"st_blksize": 1024}
    )


def open_info(cage: CageView, path: bytes, flags: int) -> ProcText:
    if flags & O_ACCMODE != O_RDONLY:
        raise GuestError(EACCES)
    return ProcText(text(cage, path), _ino(path), flags & O_ACCMODE)


def stat_info(cage: CageView, path: bytes) -> os.stat_result:
    if _SELF.match(path) and _own(cage, path) is None:
        raise GuestError(ENOENT)
    return info_stat(_ino(path))


# -- the process name and the dumpable flag (prctl) ----------
_names: weakref.WeakKeyDictionary[CageView, tuple[int, bytes]] = weakref.WeakKeyDictionary()
_undumpable: weakref.WeakKeyDictionary[CageView, int] = weakref.WeakKeyDictionary()


def comm(cage: CageView) -> bytes:
    """The name: what ``PR_SET_NAME`` set since the last exec, else the program's base name."""
    named = _names.get(cage)
    if named is not None and named[0] == id(cage.argv):
        return named[1]
    argv0 = cage.argv[0] if cage.argv else b""
    return os.path.basename(argv0)[: _TASK_COMM_LEN - 1]


PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
PR_SET_NAME = 15
PR_GET_NAME = 16


def prctl(cage: CageView, option: int, arg2: int) -> int:
    """The options above (``EINVAL`` for others)."""
    if option == PR_SET_NAME:
        raw = cage.mem.read(pointer(arg2), _TASK_COMM_LEN)
        _names[cage] = (id(cage.argv), raw[: _TASK_COMM_LEN - 1].split(b"\0", 1)[0])
        return 0
    if option == PR_GET_NAME:
        name = comm(cage)
        cage.mem.write(pointer(arg2), name + bytes(_TASK_COMM_LEN - len(name)))
        return 0
    if option == PR_SET_DUMPABLE:
        value = i32(arg2)
        if value not in (0, 1):
            raise GuestError(EINVAL)
        _undumpable[cage] = id(cage.argv) if value == 0 else -1
        return 0
    if option == PR_GET_DUMPABLE:
        return 0 if _undumpable.get(cage, -1) == id(cage.argv) else 1
    raise GuestError(EINVAL)


# -- sysinfo ----------
_SYSINFO = struct.Struct("<I3I6IHHIII")  # wasm32 struct sysinfo up to mem_unit


def sys_sysinfo(cage: CageView, info: int, *_: int) -> int:
    pages, free = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_AVPHYS_PAGES")
    loads = [min(int(load * 65536), 0xFFFFFFFF) for load in os.getloadavg()]
    uptime = int(time.clock_gettime(time.CLOCK_BOOTTIME))
    unit = 1 if pages * _PAGE <= 0xFFFFFFFF else _PAGE  # 32-bit longs: Linux's compat scaling
    scale = _PAGE // unit
    procs = min(len(cage.world.procs.live()), 0xFFFF)
    cage.mem.pack(
        _SYSINFO, pointer(info), uptime, *loads, pages * scale, free * scale, 0, 0, 0, 0,
        procs, 0, 0, 0, unit,
    )
    return 0


ROWS: list[Row] = [
    (nr.SYS_sysinfo, sys_sysinfo, Support.FULL, "host memory and load, the world's procs"),
]
