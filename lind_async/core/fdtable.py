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
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lind_async.abi.errno import EBADF, EINVAL, EMFILE, GuestError

DEFAULT_FD_LIMIT = 1024
HARD_FD_LIMIT = 4096


class OpenFile:
    """An open file description. RawPOSIX subclasses it per kind (host file, stdio, pipe…)."""

    __slots__ = ("__weakref__", "refs", "status_flags")

    def __init__(self, status_flags: int) -> None:
        self.status_flags = status_flags
        self.refs = 0


@dataclass(slots=True)
class FdEntry:
    file: OpenFile
    cloexec: bool = False


class FdTable:
    """One cage's descriptors. Lowest free number first, as POSIX requires."""

    __slots__ = ("_entries", "hard_limit", "limit")

    def __init__(self, limit: int = DEFAULT_FD_LIMIT, hard_limit: int = HARD_FD_LIMIT) -> None:
        self._entries: dict[int, FdEntry] = {}
        self.limit = limit  # RLIMIT_NOFILE: descriptors are numbered below it
        self.hard_limit = max(hard_limit, limit)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, vfd: int) -> bool:
        return vfd in self._entries

    def items(self) -> Iterator[tuple[int, FdEntry]]:
        return iter(sorted(self._entries.items()))

    def get(self, vfd: int) -> FdEntry:
        entry = self._entries.get(vfd)
        if entry is None:
            raise GuestError(EBADF)
        return entry

    def file(self, vfd: int) -> OpenFile:
        """The description behind ``vfd`` (``EBADF`` if none). The hot path of every fd call."""
        entry = self._entries.get(vfd)
        if entry is None:
            raise GuestError(EBADF)
        return entry.file

    def _lowest_free(self, start: int) -> int:
        vfd = start
        while vfd in self._entries:
            vfd += 1
        if vfd >= self.limit:
            raise GuestError(EMFILE)
        return vfd

    def install(self, file: OpenFile, *, cloexec: bool = False, lowest: int = 0) -> int:
        """Give ``file`` the lowest free descriptor >= ``lowest`` (``EMFILE`` if none is below
        the limit, as ``open`` fails when every allowed number is taken)."""
        if lowest < 0:
            raise GuestError(EINVAL)
        vfd = self._lowest_free(lowest)
        self._entries[vfd] = FdEntry(file, cloexec)
        file.refs += 1
        return vfd

    def install_at(self, vfd: int, file: OpenFile, *, cloexec: bool = False) -> OpenFile | None:
        """Put ``file`` at exactly ``vfd`` (dup2 semantics), returning a description now unused."""
        if not 0 <= vfd < self.limit:
            raise GuestError(EBADF)
        file.refs += 1
        previous = self._entries.get(vfd)
        self._entries[vfd] = FdEntry(file, cloexec)
        return _release(previous.file) if previous is not None else None

    def close(self, vfd: int) -> OpenFile | None:
        """Remove ``vfd``; returns its description when this was its last reference."""
        entry = self._entries.pop(vfd, None)
        if entry is None:
            raise GuestError(EBADF)
        return _release(entry.file)

    def dup(self, vfd: int, *, lowest: int = 0, cloexec: bool = False) -> int:
        """``dup``/``F_DUPFD``: a start at or past the limit is ``EINVAL`` (Linux's ``f_dupfd``)."""
        file = self.file(vfd)
        if lowest >= self.limit:
            raise GuestError(EINVAL)
        return self.install(file, cloexec=cloexec, lowest=lowest)

    def set_cloexec(self, vfd: int, cloexec: bool) -> None:
        self.get(vfd).cloexec = cloexec

    def fork(self) -> FdTable:
        """A copy for a forked child: same descriptions (shared offsets), same flags."""
        child = FdTable(self.limit, self.hard_limit)
        for vfd, entry in self._entries.items():
            entry.file.refs += 1
            child._entries[vfd] = FdEntry(entry.file, entry.cloexec)
        return child

    def close_on_exec(self) -> list[OpenFile]:
        """Drop close-on-exec descriptors; returns the descriptions now unused."""
        doomed = [vfd for vfd, entry in self._entries.items() if entry.cloexec]
        return [f for f in (self.close(vfd) for vfd in doomed) if f is not None]

    def close_all(self) -> list[OpenFile]:
        """Drop every descriptor (cage exit); returns the descriptions now unused."""
        return [f for f in (self.close(vfd) for vfd in list(self._entries)) if f is not None]


def _release(file: OpenFile) -> OpenFile | None:
    file.refs -= 1
    return file if file.refs == 0 else None
