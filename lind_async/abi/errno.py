"""Linux errno values as the guest sees them, and the typed guest-error exception.

The guest ABI is Linux x86_64, and the microvisor only runs on Linux, so the host's ``errno`` module
holds the same numbers; they are re-exported here so RawPOSIX never imports ``errno`` directly and a
port to another host would have one file to change.
"""

from __future__ import annotations

import errno as _host_errno
import os
from typing import Final

EPERM: Final = _host_errno.EPERM
ENOENT: Final = _host_errno.ENOENT
ESRCH: Final = _host_errno.ESRCH
EINTR: Final = _host_errno.EINTR
EIO: Final = _host_errno.EIO
EBADF: Final = _host_errno.EBADF
ECHILD: Final = _host_errno.ECHILD
EAGAIN: Final = _host_errno.EAGAIN
ENOMEM: Final = _host_errno.ENOMEM
EACCES: Final = _host_errno.EACCES
EFAULT: Final = _host_errno.EFAULT
EEXIST: Final = _host_errno.EEXIST
EXDEV: Final = _host_errno.EXDEV
EROFS: Final = _host_errno.EROFS
ENOTDIR: Final = _host_errno.ENOTDIR
EISDIR: Final = _host_errno.EISDIR
EINVAL: Final = _host_errno.EINVAL
ENFILE: Final = _host_errno.ENFILE
EMFILE: Final = _host_errno.EMFILE
ENOTTY: Final = _host_errno.ENOTTY
ESPIPE: Final = _host_errno.ESPIPE
ERANGE: Final = _host_errno.ERANGE
ENAMETOOLONG: Final = _host_errno.ENAMETOOLONG
ENOSYS: Final = _host_errno.ENOSYS
ENOTEMPTY: Final = _host_errno.ENOTEMPTY
ELOOP: Final = _host_errno.ELOOP
EOVERFLOW: Final = _host_errno.EOVERFLOW
ENODEV: Final = _host_errno.ENODEV
EPIPE: Final = _host_errno.EPIPE
EBUSY: Final = _host_errno.EBUSY
E2BIG: Final = _host_errno.E2BIG
ENOEXEC: Final = _host_errno.ENOEXEC
ETIMEDOUT: Final = _host_errno.ETIMEDOUT


class GuestError(Exception):
    """A system call failed with an errno the guest will see as ``-errno``.

    Raised anywhere below the dispatcher; turned into a negative return value only by
    :func:`to_negative_errno` (RawPOSIX's dispatcher, 3i's guest import, the grates' call paths).
    Never used for host failures.
    """

    __slots__ = ("errno",)

    def __init__(self, errno: int) -> None:
        super().__init__(errno)
        self.errno = errno

    def __str__(self) -> str:
        return f"{errno_name(self.errno)} ({os.strerror(self.errno)})"


def to_negative_errno(exc: GuestError | OSError, fallback: int | None = None) -> int:
    """The guest's view of a failed call: ``-errno``; every such conversion goes through here.

    A host ``OSError`` without an errno is a host bug, not a guest error: it is re-raised. A site
    that must answer with an errno whatever happened passes ``fallback``, used when the exception
    carries no errno (None or 0).
    """
    errno = exc.errno
    if fallback is not None and not errno:
        return -fallback
    if errno is None:
        raise exc
    return -errno


def errno_name(value: int) -> str:
    """Symbolic name of an errno value (``"ENOENT"``), or the number as text."""
    return _host_errno.errorcode.get(value, str(value))

# Networking errnos (sockets family).
ENOTSOCK: Final = _host_errno.ENOTSOCK
EDESTADDRREQ: Final = _host_errno.EDESTADDRREQ
EMSGSIZE: Final = _host_errno.EMSGSIZE
EPROTOTYPE: Final = _host_errno.EPROTOTYPE
ENOPROTOOPT: Final = _host_errno.ENOPROTOOPT
EPROTONOSUPPORT: Final = _host_errno.EPROTONOSUPPORT
ESOCKTNOSUPPORT: Final = _host_errno.ESOCKTNOSUPPORT
EOPNOTSUPP: Final = _host_errno.EOPNOTSUPP
EAFNOSUPPORT: Final = _host_errno.EAFNOSUPPORT
EADDRINUSE: Final = _host_errno.EADDRINUSE
EADDRNOTAVAIL: Final = _host_errno.EADDRNOTAVAIL
ENOBUFS: Final = _host_errno.ENOBUFS
ECONNRESET: Final = _host_errno.ECONNRESET
ECONNREFUSED: Final = _host_errno.ECONNREFUSED
EISCONN: Final = _host_errno.EISCONN
ENOTCONN: Final = _host_errno.ENOTCONN
EINPROGRESS: Final = _host_errno.EINPROGRESS
EALREADY: Final = _host_errno.EALREADY

# Filesystem and lock errnos (fs family).
EDEADLK: Final = _host_errno.EDEADLK
EWOULDBLOCK: Final = _host_errno.EWOULDBLOCK
ENXIO: Final = _host_errno.ENXIO
EFBIG: Final = _host_errno.EFBIG
EMLINK: Final = _host_errno.EMLINK
ENOLCK: Final = _host_errno.ENOLCK
EDOM: Final = _host_errno.EDOM

# System V IPC (core/ipc*.py).
ENOSPC: Final = _host_errno.ENOSPC
EIDRM: Final = _host_errno.EIDRM
ENOMSG: Final = _host_errno.ENOMSG
