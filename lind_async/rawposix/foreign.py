"""Host objects outside the root: a capability to read and write them, never a name.

Theory of operation
-------------------
A cage's files are found by name inside its root (``confine.py``) and are ``HostFile``s. A few
descriptions instead wrap a host object the cage never named: the microvisor's own stdio, a
file, pipe or socket an embedder passes as a cage's stdin/stdout/stderr, and ``/dev/tty`` — all
:class:`~lind_async.rawposix.host_stream.HostStream`. Such a *foreign* description lets the cage
read, write, ``fstat``, ``lseek`` and poll it, as the stream it was handed, and nothing more:

- no name: ``linkat(fd, "", ..., AT_EMPTY_PATH)`` and ``link``/``linkat`` through ``/dev/stdout``,
  ``/dev/fd/N`` or ``/proc/self/fd/N`` are ``EPERM`` (the host file would appear in the root);
  ``*at`` calls relative to it are ``ENOTDIR``; ``readlink`` of its ``/proc/self/fd`` entry does
  not reveal the host path;
- no wider access: reopening it through those names shares the same description, and asking for
  an access the description lacks is ``EACCES`` (``O_TRUNC`` is ignored: a stream is not
  truncated by being named);
- no metadata changes (``fchmod``, ``fchown``, ``ftruncate``, ``fallocate``, ``futimens``, and
  the same through its names): ``EPERM``, unless the embedder granted them for that stream
  (:func:`grant_metadata`, from ``lind_async.HostStdio(fd, metadata=True)``);
- no host locks: ``flock``/``fcntl`` locks on it stay among the cages (``host_locks.py``), so a
  cage cannot stall a host program that locks its log.
"""

from __future__ import annotations

import weakref
from typing import TypeGuard

from lind_async.abi.errno import EPERM, GuestError
from lind_async.rawposix.files import FileOps
from lind_async.rawposix.host_stream import HostStream

_granted: weakref.WeakSet[FileOps] = weakref.WeakSet()


def is_foreign(file: object) -> TypeGuard[HostStream]:
    """Whether ``file`` wraps a host object the cage did not open by name inside its root."""
    return isinstance(file, HostStream)


def grant_metadata(file: FileOps) -> None:
    """Let cages change the metadata (mode, owner, size, times) of the host object behind
    ``file``: the embedder's explicit opt-in for one stream."""
    _granted.add(file)


def check_metadata(file: object) -> None:
    """``EPERM`` for a metadata change of a foreign object the embedder did not grant."""
    if is_foreign(file) and file not in _granted:
        raise GuestError(EPERM)


def check_nameable(file: object) -> None:
    """``EPERM`` when ``file`` is foreign: it must never get a name inside the root."""
    if is_foreign(file):
        raise GuestError(EPERM)
