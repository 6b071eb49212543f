"""The default root: a minimal ``/etc``, ``/dev`` and ``/tmp`` for a root that lacks them.

Theory of operation
-------------------
A cage's root is a host directory the user chose; it often holds only the program. Programs expect
a few system files, so the runtime *overlays* them, without ever writing into that directory:

- ``/etc/passwd``, ``group``, ``hosts``, ``resolv.conf``, ``nsswitch.conf`` and ``localtime`` are
  **synthetic read-only files** (:data:`ETC`): bytes held here, served by :class:`OverlayFile`.
  Users root (0) and nobody (65534), ``localhost`` for 127.0.0.1 and ::1, the host's name servers,
  UTC as a TZif file. Opening one for writing, or changing it in any way, is ``EROFS``.
- ``/etc`` and ``/dev`` are **synthetic directories** when the root has none
  (:class:`OverlayDirectory`); ``/dev``'s entries are the virtual devices of ``devices.DEVICES`` and
  ``procfs`` (``null``, ``zero``, ``random``, ``urandom``, ``tty``, ``fd``, ``stdin/out/err``),
  which never reached the root anyway.
- ``/tmp`` without a ``/tmp`` in the root is a **private host directory** of the microvisor
  (``confine.HostRoot.tmp``), created on first use and removed when the microvisor closes; every
  path under it resolves with ``openat2(RESOLVE_IN_ROOT)`` from that directory (see confine.py).

**A real entry always wins**: each name is looked up in the root first, and the overlay answers
only ``ENOENT`` there. Listings merge: ``readdir`` of ``/``, ``/etc`` and ``/dev`` adds the overlaid
names the real directory lacks. Names are matched *lexically* (the normalized absolute path), as
``/dev/null`` always was: a symlink in the root that points at ``/etc/passwd`` resolves inside the
root only, and does not reach the overlay. Nothing here names a host path: the files are bytes, the
devices are objects, and ``/tmp`` is a second confined root.
"""

from __future__ import annotations

import os
import stat as stat_mod
import struct

from lind_async.abi.errno import EISDIR, EROFS, GuestError
from lind_async.abi.flags import O_ACCMODE, O_CREAT, O_EXCL, O_RDONLY, O_TRUNC
from lind_async.rawposix.devices import DEVICES
from lind_async.rawposix.files import DirEntry, FileOps
from lind_async.rawposix.synthetic import SnapshotDirectory, SnapshotFile

_DT_DIR, _DT_REG, _DT_CHR, _DT_LNK = 4, 8, 2, 10
_INO = 0x7E000000  # synthetic inode numbers (procfs uses 0x7F......)
_DEV = 0x7E


def _tzif_utc() -> bytes:
    """UTC as a TZif version 2 file (RFC 8536): one type, no transitions, footer ``UTC0``."""
    counts = struct.pack(">6l", 0, 0, 0, 0, 1, 4)  # isut, isstd, leap, time, type, char
    block = b"TZif2" + bytes(15) + counts + struct.pack(">lBB", 0, 0, 0) + b"UTC\0"
    return block + block + b"\nUTC0\n"


def _resolv_conf() -> bytes:
    """The host's name servers (cages' sockets are the host's), else the local resolver."""
    try:
        with open("/etc/resolv.conf", "rb") as host:
            lines = [
                line for line in host.read(65536).splitlines()
                if line.split()[:1] in ([b"nameserver"], [b"search"], [b"options"])
            ]
    except OSError:
        lines = []
    return b"\n".join(lines or [b"nameserver 127.0.0.1"]) + b"\n"


ETC: dict[bytes, bytes] = {
    b"/etc/passwd": (
        b"root:x:0:0:root:/root:/bin/sh\n"
        b"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    ),
    b"/etc/group": b"root:x:0:\nnobody:x:65534:\n",
    b"/etc/hosts": b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    b"/etc/resolv.conf": _resolv_conf(),
    b"/etc/nsswitch.conf": b"passwd: files\ngroup: files\nhosts: files dns\n",
    b"/etc/localtime": _tzif_utc(),
}
"""The synthetic files, by guest path."""

DEV_ENTRIES: dict[bytes, int] = {
    **{name.rpartition(b"/")[2]: _DT_CHR for name in DEVICES},
    b"tty": _DT_CHR, b"fd": _DT_LNK, b"stdin": _DT_LNK, b"stdout": _DT_LNK, b"stderr": _DT_LNK,
}

DIRECTORIES: dict[bytes, dict[bytes, int]] = {
    b"/": {b"etc": _DT_DIR, b"dev": _DT_DIR, b"tmp": _DT_DIR},
    b"/etc": {name.rpartition(b"/")[2]: _DT_REG for name in ETC},
    b"/dev": DEV_ENTRIES,
}
"""What the overlay adds to each directory's listing (when the real one lacks the name)."""

SYNTHETIC_DIRS = (b"/etc", b"/dev")


def provides(path: bytes) -> bool:
    """Does the overlay have an entry at the (lexically normalized) guest path?"""
    return path in ETC or path in SYNTHETIC_DIRS or path == b"/tmp"


def under_synthetic(path: bytes) -> bool:
    """Is ``path`` inside ``/etc`` or ``/dev`` (a name those directories could hold)?"""
    return any(path.startswith(d + b"/") for d in SYNTHETIC_DIRS)


def _ino(path: bytes) -> int:
    return _INO + (sum(path) * 131 + len(path)) % 0xFFFFF


def file_stat(path: bytes) -> os.stat_result:
    """A synthetic file: root's, read-only for everyone, its size, the epoch as its times."""
    return os.stat_result(
        (stat_mod.S_IFREG | 0o444, _ino(path), _DEV, 1, 0, 0, len(ETC[path]), 0, 0, 0),
        {"st_blksize": 4096, "st_blocks": (len(ETC[path]) + 511) // 512},
    )


def dir_stat(path: bytes) -> os.stat_result:
    mode = stat_mod.S_IFDIR | (0o1777 if path == b"/tmp" else 0o555)
    return os.stat_result((mode, _ino(path), _DEV, 2, 0, 0, 4096, 0, 0, 0), {"st_blksize": 4096})


def overlay_stat(path: bytes) -> os.stat_result:
    return file_stat(path) if path in ETC else dir_stat(path)


def merged(path: bytes | None, entries: list[DirEntry], present: set[bytes]) -> list[DirEntry]:
    """``entries`` of the real directory ``path`` plus the overlaid names it lacks."""
    extra = DIRECTORIES.get(path or b"")
    if not extra:
        return entries
    base = b"" if path == b"/" else path or b""
    added = [
        DirEntry(name, _ino(base + b"/" + name), dtype)
        for name, dtype in extra.items()
        if name not in present
    ]
    return entries + added


def refuse_change() -> GuestError:
    """Any change to an overlaid entry: it lives on no filesystem the cage may write."""
    return GuestError(EROFS)


class OverlayFile(SnapshotFile):
    """An open synthetic ``/etc`` file: read-only bytes with an offset."""

    __slots__ = ("_path",)
    write_errno = EROFS

    def __init__(self, path: bytes, status_flags: int) -> None:
        super().__init__(ETC[path], status_flags)
        self._path = path

    @property
    def guest_path(self) -> bytes:
        return self._path

    def stat(self) -> os.stat_result:
        return file_stat(self._path)

    def lock_key(self) -> tuple[int, int] | None:
        return _DEV, _ino(self._path)


class OverlayDirectory(SnapshotDirectory):
    """An open synthetic directory (``/etc`` or ``/dev`` when the root has none)."""

    __slots__ = ("_path",)

    def __init__(self, path: bytes, status_flags: int) -> None:
        super().__init__(status_flags)
        self._path = path

    @property
    def guest_path(self) -> bytes:
        return self._path

    def entries(self) -> list[DirEntry]:
        own = _ino(self._path)
        dots = [DirEntry(b".", own, _DT_DIR), DirEntry(b"..", _ino(b"/"), _DT_DIR)]
        return merged(self._path, dots, set())

    def stat(self) -> os.stat_result:
        return dir_stat(self._path)


def open_entry(path: bytes, flags: int) -> FileOps:
    """Open the overlaid ``path`` (the root lacks it): ``EROFS`` for any write intent."""
    if flags & O_CREAT and flags & O_EXCL:
        from lind_async.abi.errno import EEXIST

        raise GuestError(EEXIST)
    if flags & O_ACCMODE != O_RDONLY or flags & O_TRUNC:
        if path in SYNTHETIC_DIRS:
            raise GuestError(EISDIR)
        raise GuestError(EROFS)
    kept = flags & ~(O_CREAT | O_EXCL | O_TRUNC | os.O_CLOEXEC)
    if path in ETC:
        if flags & os.O_DIRECTORY:
            from lind_async.abi.errno import ENOTDIR

            raise GuestError(ENOTDIR)
        return OverlayFile(path, kept)
    return OverlayDirectory(path, kept)
