"""``SOL_SOCKET`` options of an AF_UNIX socket (``unix_socket.py``): ``setsockopt`` and
``getsockopt`` past what ``sock_base.py`` answers for every socket (the timeouts, ``SO_TYPE``), as
functions of the socket that :class:`~lind_async.rawposix.unix_socket.UnixSocket` binds as its
methods. A socket fronting a host connection asks the host socket.

As on Linux: ``SO_SNDBUF``/``SO_RCVBUF`` store twice the value asked, clamped to the host's
``wmem_max``/``rmem_max`` and the kernel's minimums (``sock_sysctl.py``), and only ``SO_SNDBUF``
limits anything (the sender's account); ``SO_PEERCRED`` is the peer's ``(pid, uid, gid)`` when
it connected (a listener's own); ``SO_ERROR`` reads and clears the pending error; the other
options are stored and read back (booleans as 0/1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import EINVAL, ENOPROTOOPT, EOPNOTSUPP, GuestError
from lind_async.rawposix import sock_sysctl as sysctl
from lind_async.rawposix.sock_base import int_option, pack_int
from lind_async.rawposix.unix_connect import LISTENING

if TYPE_CHECKING:
    from lind_async.rawposix.unix_socket import UnixSocket

__all__ = ["get_option", "set_option"]

_STORED_OPTIONS = (F.SO_REUSEADDR, F.SO_KEEPALIVE, F.SO_PASSCRED, F.SO_BROADCAST, F.SO_REUSEPORT,
                   F.SO_OOBINLINE, F.SO_PRIORITY, F.SO_RCVLOWAT, F.SO_DONTROUTE)  # fmt: skip
_BOOLEANS = frozenset((F.SO_REUSEADDR, F.SO_KEEPALIVE, F.SO_PASSCRED, F.SO_BROADCAST,
                       F.SO_REUSEPORT, F.SO_OOBINLINE, F.SO_DONTROUTE))  # fmt: skip
_DEFAULTS = {F.SO_RCVLOWAT: 1}
_INT_MAX = 0x7FFFFFFF


def set_option(sock: UnixSocket, level: int, name: int, value: bytes) -> None:
    if (remote := sock.synced_remote()) is not None:
        remote.set_option(level, name, value)
        return
    if level != F.SOL_SOCKET:
        raise GuestError(EOPNOTSUPP)
    if name == F.SO_SNDBUF:
        asked = min(int_option(value) & 0xFFFFFFFF, sysctl.WMEM_MAX)
        sock.account.sndbuf = max(sysctl.SOCK_MIN_SNDBUF, asked * 2)
        sock.sendq.wake_all()
    elif name == F.SO_RCVBUF:
        asked = min(int_option(value) & 0xFFFFFFFF, sysctl.RMEM_MAX)
        sock.options[name] = max(sysctl.SOCK_MIN_RCVBUF, asked * 2)
    elif name in _BOOLEANS:
        sock.options[name] = int(int_option(value) != 0)
    elif name == F.SO_RCVLOWAT:
        low = int_option(value)
        sock.options[name] = _INT_MAX if low < 0 else low or 1
    elif name in _STORED_OPTIONS:
        sock.options[name] = int_option(value)
    elif name == F.SO_LINGER:
        if len(value) < 8:
            raise GuestError(EINVAL)
        sock.options[F.SO_LINGER] = int_option(value)
        sock.options[-F.SO_LINGER] = int_option(value[4:])
    else:
        raise GuestError(ENOPROTOOPT)


def get_option(sock: UnixSocket, level: int, name: int, size: int) -> bytes:
    if (remote := sock.synced_remote()) is not None:
        return remote.get_option(level, name, size)
    if level != F.SOL_SOCKET:
        raise GuestError(EOPNOTSUPP)
    if name == F.SO_ERROR:
        err, sock.error = sock.error, 0
        sock.recheck()
        return pack_int(err)
    if name == F.SO_ACCEPTCONN:
        return pack_int(int(sock.state == LISTENING))
    if name == F.SO_PEERCRED:
        pid, uid, gid = sock.peer_cred
        return pack_int(pid) + uid.to_bytes(4, "little") + gid.to_bytes(4, "little")
    if name == F.SO_LINGER:
        onoff = sock.options.get(F.SO_LINGER, 0)
        return pack_int(onoff) + pack_int(sock.options.get(-F.SO_LINGER, 0))
    if name == F.SO_SNDBUF:
        return pack_int(sock.account.sndbuf)
    if name == F.SO_RCVBUF or name in _STORED_OPTIONS:
        value = sock.options.get(name, _DEFAULTS.get(name, 0))
        return pack_int(int(value))
    raise GuestError(ENOPROTOOPT)
