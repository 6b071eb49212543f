"""Host fds made on a cage's behalf: raise the host's limit once, keep a reserve, refuse with
``ENFILE`` near it (the arithmetic and the reasoning: ``core/hostfds.py``).

Every place RawPOSIX creates a host fd that a cage will hold (a file it opens, a socket, an
accepted connection, a shared-memory object) passes the new fd through :func:`admit`, or makes it
inside :func:`make`, which also turns the host's own ``EMFILE`` into ``ENFILE`` for the cage.
Transient fds the microvisor opens and closes within one call are not checked: they come back
before the call returns.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from typing import TypeVar

from lind_async.abi.errno import EMFILE, ENFILE, GuestError
from lind_async.core.hostfds import HostFdBudget

_budget = HostFdBudget(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
_ceiling = _budget.ceiling  # the budget's, kept with it: every open checks against it

T = TypeVar("T")


def raise_host_limit() -> HostFdBudget:
    """Raise this process's ``RLIMIT_NOFILE`` soft limit to its hard limit (at microvisor start)
    and size the budget from the result. Without permission to raise it, the current limit is
    used as it is."""
    global _budget, _ceiling
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _nr_open() if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY:
        soft = target
    elif soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            pass
    _budget = HostFdBudget(soft)
    _ceiling = _budget.ceiling
    return _budget


def budget() -> HostFdBudget:
    return _budget


def admit(host_fd: int) -> int:
    """Keep ``host_fd`` for a cage, or close it and fail with ``ENFILE`` (in the reserve)."""
    if 0 <= host_fd < _ceiling:  # _budget.admits(host_fd), with its ceiling computed once
        return host_fd
    os.close(host_fd)
    raise GuestError(ENFILE)


def make(create: Callable[[], T], fileno: Callable[[T], int], close: Callable[[T], None]) -> T:
    """Create a host object holding one fd for a cage (``create``), admitted as :func:`admit`
    does; the host's ``EMFILE`` becomes the cage's ``ENFILE``."""
    try:
        obj = create()
    except OSError as exc:
        if exc.errno == EMFILE:
            raise GuestError(ENFILE) from None
        raise
    if not _budget.admits(fileno(obj)):
        close(obj)
        raise GuestError(ENFILE)
    return obj


def open_fd(create: Callable[[], int]) -> int:
    """:func:`make` for a plain host fd (``os.open``, ``openat2``, ``memfd_create``, ``dup``)."""
    return make(create, _same, os.close)


def _same(fd: int) -> int:
    return fd


def _nr_open() -> int:
    try:
        with open("/proc/sys/fs/nr_open", "rb") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 20
