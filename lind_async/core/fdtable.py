"""Per-cage file descriptor tables over shared open-file descriptions.

Theory of operation
-------------------
Two levels, as in Linux:

- an :class:`OpenFile` is an *open file description*: the thing ``open`` creates, holding the file
  offset and status flags (``O_APPEND``, ``O_NONBLOCK``…). ``dup`` and ``fork`` share one
  description between several descriptors, so offsets and status flags are shared too;
- an :class:`FdTable` maps a cage's virtual fd numbers (``vfd``) to a description plus the one
  per-descriptor flag, close-on-exec.

Descriptions are reference-counted by the tables that hold them. This module does no I/O: when a
``close`` drops the last reference, the description is *returned* to the caller (RawPOSIX), which
releases the host resource. A cage can only ever name fds in its own table: there is no global fd
namespace to brute-force.

The fast table. A description RawPOSIX lets the compiled syscall trampoline serve has a record
index (``OpenFile.fast``, non-zero; ``rawposix/fastio.py``). Each table keeps, for its descriptors
below :data:`FAST_FDS`, a C array of those indices (:attr:`FdTable.fast`, its address for C;
allocated at the first such descriptor): entry ``vfd`` is ``entries[vfd].fast`` or 0, always.
Every mutation (install, ``dup2`` over a descriptor, close, exec's close-on-exec, exit) writes the
entry in the same step as the mapping, before it returns, so C never sees a descriptor that is
gone; a forked child's table starts with the parent's entries (same descriptions).

The compiled trampoline's ``open`` and ``close`` (``native/syscall_files.c``) do
:meth:`FdTable.install`'s and :meth:`FdTable.remove`'s steps themselves, on these very objects
(``_entries``, ``_cloexec``, ``refs``, the fast table and ``_COUNTS``), for a regular file's
description: a change to either method's steps, or to what the table holds, is a change there
too (``tests/e2e/programs/fastopen.c`` runs both against native under both trampolines).
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator

from lind_async.abi.errno import EBADF, EINVAL, EMFILE, GuestError

DEFAULT_FD_LIMIT = 1024
HARD_FD_LIMIT = 4096
FAST_FDS = 256  # descriptors the fast table covers (higher ones always take Python's path)
_FastArray = ctypes.c_uint32 * FAST_FDS
# How many fast tables have a non-zero entry at each descriptor number, over all tables of the
# process: the trampoline's one-load pre-check (a read of fd 4 when no table has an entry at 4
# costs it nothing more). Kept with the entries; a count too high costs time, never safety.
_COUNTS = _FastArray()
FAST_COUNTS_ADDRESS = ctypes.addressof(_COUNTS)
_counts = memoryview(_COUNTS).cast("B").cast("I")


class OpenFile:
    """An open file description. RawPOSIX subclasses it per kind (host file, stdio, pipe…)."""

    __slots__ = ("__weakref__", "fast", "refs", "status_flags")

    def __init__(self, status_flags: int) -> None:
        self.fast = 0  # its record for the C trampoline (rawposix/fastio.py), 0: none
        self.status_flags = status_flags
        self.refs = 0


class FdEntry:
    """One descriptor as a record: its description and its close-on-exec flag (a view of the
    table: setting ``cloexec`` sets the descriptor's flag)."""

    __slots__ = ("_table", "vfd")

    def __init__(self, table: FdTable, vfd: int) -> None:
        self._table = table
        self.vfd = vfd

    @property
    def file(self) -> OpenFile:
        return self._table.file(self.vfd)

    @property
    def cloexec(self) -> bool:
        return self.vfd in self._table._cloexec

    @cloexec.setter
    def cloexec(self, on: bool) -> None:
        self._table.set_cloexec(self.vfd, on)


class FdTable:
    """One cage's descriptors. Lowest free number first, as POSIX requires.

    Stored as ``vfd -> description`` plus the set of close-on-exec descriptors (no record per
    descriptor: every open and close would allocate and free one)."""

    __slots__ = ("_array", "_cloexec", "_entries", "_fast", "fast", "hard_limit", "limit")

    def __init__(self, limit: int = DEFAULT_FD_LIMIT, hard_limit: int = HARD_FD_LIMIT) -> None:
        self._entries: dict[int, OpenFile] = {}
        self._cloexec: set[int] = set()
        self.limit = limit  # RLIMIT_NOFILE: descriptors are numbered below it
        self.hard_limit = max(hard_limit, limit)
        self.fast = 0  # the fast table's address (0: none yet, every descriptor is Python's)
        self._fast: memoryview | None = None
        self._array: ctypes.Array[ctypes.c_uint32] | None = None

    def _note(self, vfd: int, index: int) -> None:
        """Entry ``vfd`` of the fast table is now ``index`` (see the module docstring)."""
        table = self._fast
        if table is None:
            if not index or vfd >= FAST_FDS:
                return
            self._array = _FastArray()
            self.fast = ctypes.addressof(self._array)
            table = self._fast = memoryview(self._array).cast("B").cast("I")
        if vfd < FAST_FDS:
            old = table[vfd]
            table[vfd] = index
            if bool(old) != bool(index):
                _counts[vfd] += 1 if index else -1

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, vfd: int) -> bool:
        return vfd in self._entries

    def items(self) -> Iterator[tuple[int, FdEntry]]:
        return iter([(vfd, FdEntry(self, vfd)) for vfd in sorted(self._entries)])

    def get(self, vfd: int) -> FdEntry:
        if vfd not in self._entries:
            raise GuestError(EBADF)
        return FdEntry(self, vfd)

    def file(self, vfd: int) -> OpenFile:
        """The description behind ``vfd`` (``EBADF`` if none). The hot path of every fd call."""
        file = self._entries.get(vfd)
        if file is None:
            raise GuestError(EBADF)
        return file

    def install(self, file: OpenFile, *, cloexec: bool = False, lowest: int = 0) -> int:
        """Give ``file`` the lowest free descriptor >= ``lowest`` (``EMFILE`` if none is below
        the limit, as ``open`` fails when every allowed number is taken)."""
        if lowest < 0:
            raise GuestError(EINVAL)
        entries = self._entries
        vfd = lowest  # (the lowest free number, inline: every open comes here)
        while vfd in entries:
            vfd += 1
        if vfd >= self.limit:
            raise GuestError(EMFILE)
        entries[vfd] = file
        if cloexec:
            self._cloexec.add(vfd)
        file.refs += 1
        index = file.fast
        if index:  # (the entry was 0: the number was free)
            table = self._fast
            if table is not None and vfd < FAST_FDS:
                table[vfd] = index
                _counts[vfd] += 1
            else:
                self._note(vfd, index)
        return vfd

    def install_at(self, vfd: int, file: OpenFile, *, cloexec: bool = False) -> OpenFile | None:
        """Put ``file`` at exactly ``vfd`` (dup2 semantics), returning a description now unused."""
        if not 0 <= vfd < self.limit:
            raise GuestError(EBADF)
        file.refs += 1
        previous = self._entries.get(vfd)
        self._entries[vfd] = file
        if file.fast or self._fast is not None:
            self._note(vfd, file.fast)
        self.set_cloexec(vfd, cloexec)
        return _release(previous) if previous is not None else None

    def close(self, vfd: int) -> OpenFile | None:
        """Remove ``vfd``; returns its description when this was its last reference."""
        file = self.remove(vfd)
        return file if file.refs == 0 else None

    def remove(self, vfd: int) -> OpenFile:
        """``close`` for its caller's own release: removes ``vfd`` and returns its description,
        whose ``refs`` is then 0 if this was its last reference."""
        file = self._entries.pop(vfd, None)
        if file is None:
            raise GuestError(EBADF)
        table = self._fast
        if table is not None and vfd < FAST_FDS and table[vfd]:
            table[vfd] = 0
            _counts[vfd] -= 1
        if self._cloexec:
            self._cloexec.discard(vfd)
        file.refs -= 1
        return file

    def dup(self, vfd: int, *, lowest: int = 0, cloexec: bool = False) -> int:
        """``dup``/``F_DUPFD``: a start at or past the limit is ``EINVAL`` (Linux's ``f_dupfd``)."""
        file = self.file(vfd)
        if lowest >= self.limit:
            raise GuestError(EINVAL)
        return self.install(file, cloexec=cloexec, lowest=lowest)

    def set_cloexec(self, vfd: int, cloexec: bool) -> None:
        if vfd not in self._entries:
            raise GuestError(EBADF)
        if cloexec:
            self._cloexec.add(vfd)
        else:
            self._cloexec.discard(vfd)

    def fork(self) -> FdTable:
        """A copy for a forked child: same descriptions (shared offsets), same flags."""
        child = FdTable(self.limit, self.hard_limit)
        child._entries = dict(self._entries)
        child._cloexec = set(self._cloexec)
        for vfd, file in self._entries.items():
            file.refs += 1
            if file.fast:
                child._note(vfd, file.fast)
        return child

    def close_on_exec(self) -> list[OpenFile]:
        """Drop close-on-exec descriptors; returns the descriptions now unused."""
        doomed = sorted(self._cloexec)
        return [f for f in (self.close(vfd) for vfd in doomed) if f is not None]

    def close_all(self) -> list[OpenFile]:
        """Drop every descriptor (cage exit); returns the descriptions now unused."""
        return [f for f in (self.close(vfd) for vfd in list(self._entries)) if f is not None]


def _release(file: OpenFile) -> OpenFile | None:
    file.refs -= 1
    return file if file.refs == 0 else None
