"""What every socket kind answers: the interface the socket system calls (``sockets.py``) use.

A socket is an open file description (:class:`FileOps`) with socket operations. Each operation
completes now (returns a value) or returns an awaitable when the calling cage must wait, exactly as
``read_into``/``write_from`` do; the hot paths (``recv_into``/``send_from`` that complete at once)
never create a coroutine.

``recvmsg`` answers a :data:`Received`: ``(byte count, sender address or None, rights or None,
msg_flags)``. Rights are the open file descriptions of an ``SCM_RIGHTS`` message, each holding
one in-flight reference (``refs``) until the receiver installs or drops it
(:func:`drop_rights`).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi.errno import (
    EAGAIN,
    EDOM,
    EINVAL,
    ENOPROTOOPT,
    EOPNOTSUPP,
    GuestError,
)
from lind_async.core.fdtable import OpenFile
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.readiness import wait_ready

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

Received = tuple[int, bytes | None, list[OpenFile] | None, int]
RecvResult = Received | Awaitable[Received]
AcceptResult = tuple["Socket", bytes]
SIGPIPE = 13

_INT = struct.Struct("<i")
_TIMEVAL = struct.Struct(L.TIMEVAL.fmt)


def drop_rights(rights: list[OpenFile] | None) -> None:
    """Give up in-flight references (a discarded message, or rights with no room to land)."""
    for file in rights or ():
        file.refs -= 1
        if file.refs == 0:
            file.release()  # type: ignore[attr-defined]


def int_option(value: bytes) -> int:
    """An ``int`` socket option value (``EINVAL`` if shorter than an int)."""
    if len(value) < 4:
        raise GuestError(EINVAL)
    return int(_INT.unpack_from(value)[0])


def pack_int(value: int) -> bytes:
    return _INT.pack(value)


class Socket(FileOps):
    """Base of the socket kinds; Linux's answers for what a kind cannot do."""

    __slots__ = ("family", "protocol", "rcvtimeo", "sndtimeo", "stype")

    def __init__(self, family: int, stype: int, protocol: int, status_flags: int) -> None:
        super().__init__(F.O_RDWR | status_flags)
        self.family = family
        self.stype = stype
        self.protocol = protocol
        self.rcvtimeo: float | None = None  # SO_RCVTIMEO / SO_SNDTIMEO, seconds (None: forever)
        self.sndtimeo: float | None = None

    def nonblocking(self, flags: int = 0) -> bool:
        return bool(self.status_flags & F.O_NONBLOCK or flags & F.MSG_DONTWAIT)

    # -- operations (defaults: Linux's answer for a kind that cannot) ----------------------------
    def bind(self, cage: CageView, raw: bytes) -> None:
        raise GuestError(EOPNOTSUPP)

    def listen(self, backlog: int) -> None:
        raise GuestError(EOPNOTSUPP)

    def accept(self, cage: CageView) -> AcceptResult | Awaitable[AcceptResult]:
        raise GuestError(EOPNOTSUPP)

    def connect(self, cage: CageView, raw: bytes) -> SysResult:
        raise GuestError(EOPNOTSUPP)

    def sockname(self) -> bytes:
        raise GuestError(EOPNOTSUPP)

    def peername(self) -> bytes:
        raise GuestError(EOPNOTSUPP)

    def shutdown(self, how: int) -> None:
        raise GuestError(EOPNOTSUPP)

    def recv_into(self, cage: CageView, view: memoryview, flags: int) -> SysResult:
        raise GuestError(EOPNOTSUPP)

    def send_from(self, cage: CageView, view: memoryview, flags: int) -> SysResult:
        raise GuestError(EOPNOTSUPP)

    def recvmsg(self, cage: CageView, views: list[memoryview], flags: int) -> RecvResult:
        raise GuestError(EOPNOTSUPP)

    def sendmsg(
        self,
        cage: CageView,
        views: list[memoryview],
        flags: int,
        address: bytes | None,
        rights: list[OpenFile] | None,
    ) -> SysResult:
        raise GuestError(EOPNOTSUPP)

    def bytes_readable(self) -> int:
        """``FIONREAD``: bytes a read would return now."""
        return 0

    # -- files' interface ---------------------------------------------------------------------
    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        return self.recv_into(cage, view, 0)

    def write_from(self, cage: CageView, view: memoryview) -> SysResult:
        return self.send_from(cage, view, 0)

    # -- options ------------------------------------------------------------------------------
    def setsockopt(self, level: int, name: int, value: bytes) -> None:
        if level == F.SOL_SOCKET and name in (F.SO_RCVTIMEO, F.SO_SNDTIMEO):
            timeout = _timeout(value)
            if name == F.SO_RCVTIMEO:
                self.rcvtimeo = timeout
            else:
                self.sndtimeo = timeout
            return
        self.set_option(level, name, value)

    def getsockopt(self, level: int, name: int, size: int) -> bytes:
        if level == F.SOL_SOCKET:
            if name in (F.SO_RCVTIMEO, F.SO_SNDTIMEO):
                timeout = self.rcvtimeo if name == F.SO_RCVTIMEO else self.sndtimeo
                us = round((timeout or 0.0) * 1_000_000)
                return _TIMEVAL.pack(us // 1_000_000, us % 1_000_000)
            if name == F.SO_TYPE:
                return pack_int(self.stype)
            if name == F.SO_DOMAIN:
                return pack_int(self.family)
            if name == F.SO_PROTOCOL:
                return pack_int(self.protocol)
        return self.get_option(level, name, size)

    def set_option(self, level: int, name: int, value: bytes) -> None:
        raise GuestError(ENOPROTOOPT)

    def get_option(self, level: int, name: int, size: int) -> bytes:
        raise GuestError(ENOPROTOOPT)

    # -- waiting ------------------------------------------------------------------------------
    async def wait(
        self, cage: CageView, events: int, timeout: float | None, deadline: float,
    ) -> float:
        """Wait until ``events`` may be ready; ``EAGAIN`` once an ``SO_*TIMEO`` ``timeout``
        has passed. ``deadline`` is the loop time the timeout ends (0.0: not started); the
        (possibly new) deadline is returned for the next round."""
        if timeout is None:
            await wait_ready(cage, [(self, events)], None)
            return 0.0
        now = asyncio.get_running_loop().time()
        if not deadline:
            deadline = now + timeout
        if now >= deadline:
            raise GuestError(EAGAIN)
        await wait_ready(cage, [(self, events)], deadline - now)
        return deadline


def _timeout(value: bytes) -> float | None:
    if len(value) < _TIMEVAL.size:
        raise GuestError(EINVAL)
    sec, usec = (int(v) for v in _TIMEVAL.unpack_from(value))
    if not 0 <= usec < 1_000_000:
        raise GuestError(EDOM)
    if sec < 0:
        return 1e-6  # Linux: a negative timeout expires at once
    if sec == 0 and usec == 0:
        return None  # zero: never time out
    return sec + usec / 1_000_000
