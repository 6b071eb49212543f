"""The host process's fd budget: how many host fds cages may hold, and the reserve kept back.

Theory of operation
-------------------
Every cage shares the one host process and its ``RLIMIT_NOFILE``. Cages' fd tables have their own
limits (``core/fdtable.py``), but many cages together could still take every host fd, and then
the microvisor itself (loading a module, starting a cage, the event loop, a Python grate) would
fail. So the top :attr:`HostFdBudget.reserve` descriptors of the host's limit are kept for the
microvisor: a host fd made on a cage's behalf must have a number below :attr:`ceiling`.

The check looks only at the *number* of the new fd. Linux gives the lowest free number, so a new
fd numbered ``n`` means ``0 … n-1`` are all in use: every host fd a cage holds is below the
ceiling, and the numbers from the ceiling to the limit can only be taken by the microvisor's own
work. A fd at or above the ceiling is closed at once and the cage's call fails with ``ENFILE``
("too many open files in the system", which is what the host is to a cage); a cage's own table
being full stays ``EMFILE``.

This module is pure arithmetic; ``rawposix/hostfds.py`` reads and raises the host's limit and
closes refused fds.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_RESERVE = 64
MAX_RESERVE = 1024


def reserve_for(limit: int) -> int:
    """How many host fds to keep for the microvisor under a host limit of ``limit``: a sixteenth,
    at least :data:`MIN_RESERVE` (when the limit allows) and at most :data:`MAX_RESERVE`."""
    return max(0, min(limit // 2, max(MIN_RESERVE, min(MAX_RESERVE, limit // 16))))


@dataclass(frozen=True, slots=True)
class HostFdBudget:
    """Host fds cages may hold, from the host's ``RLIMIT_NOFILE`` soft limit."""

    limit: int

    @property
    def reserve(self) -> int:
        return reserve_for(self.limit)

    @property
    def ceiling(self) -> int:
        """Host fds made for cages must be numbered below this."""
        return self.limit - self.reserve

    def admits(self, host_fd: int) -> bool:
        """Whether a host fd just made for a cage may be kept (see the module docstring)."""
        return 0 <= host_fd < self.ceiling
