"""Receiving on an AF_UNIX socket (``unix_socket.py``): ``recvmsg``, ``recv`` and ``FIONREAD``,
as functions of the socket that :class:`~lind_async.rawposix.unix_socket.UnixSocket` binds as
its methods.

A receive reads the socket's own queue: bytes of its :class:`StreamBuffer` (a read stops
after a piece that carries rights), or one whole message of its
:class:`DatagramQueue` with the sender's address (``MSG_TRUNC`` when the buffers were shorter).
Consuming returns the sender's charges, which wakes its ``sendq``; taking a message also wakes
this socket's ``roomq`` (senders waiting for the queue to shorten). With nothing queued it
reports a pending error, then end-of-file after a shutdown or a peer's close, else waits on
``readq``. ``MSG_WAITALL`` on a stream keeps waiting until the buffers are full, returning what
it has on end-of-file, an error or a timeout. A peek leaves the rights queued and hands out new
references (the receiver installs copies, as Linux's ``unix_peek_fds``); ``read(2)`` discards
rights."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import EAGAIN, EINVAL, ENOTCONN, GuestError
from lind_async.core.fdtable import OpenFile
from lind_async.rawposix.sock_base import Received, RecvResult, drop_rights
from lind_async.rawposix.unix_connect import CONNECTED
from lind_async.rawposix.unix_wait import wait_on

if TYPE_CHECKING:
    from lind_async.rawposix.files import SysResult
    from lind_async.rawposix.kernel import CageView
    from lind_async.rawposix.unix_socket import UnixSocket

__all__ = ["bytes_readable", "recv_into", "recvmsg"]


def recv_into(sock: UnixSocket, cage: CageView, view: memoryview, flags: int) -> SysResult:
    result = sock.recvmsg(cage, [view], flags)
    if result.__class__ is tuple:
        n, _addr, rights, _flags = result
        drop_rights(rights)  # read(2) discards rights
        return int(n)
    return _count_only(result)  # type: ignore[arg-type]


def recvmsg(sock: UnixSocket, cage: CageView, views: list[memoryview], flags: int) -> RecvResult:
    if (remote := sock.synced_remote()) is not None:
        return remote.recvmsg(cage, views, flags)
    if sock.conn and sock.state != CONNECTED:
        raise GuestError(EINVAL if sock.stream is not None else ENOTCONN)
    got = _recv_now(sock, views, flags)
    if got is not None:
        if flags & F.MSG_WAITALL and sock.stream is not None and not sock.nonblocking(flags):
            want = sum(len(v) for v in views)
            if 0 < got[0] < want and got[2] is None and not flags & F.MSG_PEEK:
                return _recv_later(sock, cage, views, flags, got[0])
        return got
    if sock.nonblocking(flags):
        raise GuestError(EAGAIN)
    return _recv_later(sock, cage, views, flags, 0)


def _recv_now(sock: UnixSocket, views: list[memoryview], flags: int) -> Received | None:
    """A completed receive, or ``None`` when the caller must wait."""
    peek = bool(flags & F.MSG_PEEK)
    if sock.stream is not None:
        n, rights = sock.stream.read_into(views, peek=peek)
        if n:
            return n, None, _held(rights, peek), 0
    else:
        assert sock.dgrams is not None
        if len(sock.dgrams):
            copied, full, dgram = sock.dgrams.pop_into(views, peek=peek)
            if not peek:
                sock.roomq.wake_all()
            msg_flags = F.MSG_TRUNC if full > copied else 0
            n = full if flags & F.MSG_TRUNC else copied
            return n, dgram.sender, _held(dgram.rights, peek), msg_flags
    if sock.error:
        err, sock.error = sock.error, 0
        sock.recheck()
        raise GuestError(err)
    if sock.rd_shut or (sock.stream is not None and not any(len(v) for v in views)):
        return 0, None, None, 0
    return None


async def _recv_later(
    sock: UnixSocket, cage: CageView, views: list[memoryview], flags: int, done: int
) -> Received:
    # Not blocking.block: MSG_WAITALL makes partial progress (see _stream_send_later).
    deadline = 0.0
    while True:
        try:
            deadline = await wait_on(cage, [sock.readq], sock.rcvtimeo, deadline)
        except GuestError:
            if done:
                return done, None, None, 0
            raise
        rest = _advance(views, done) if done else views
        got = _recv_now(sock, rest, flags)
        if got is None:
            continue
        if not flags & F.MSG_WAITALL or sock.stream is None or got[2] is not None:
            return (got[0] + done, *got[1:])
        done += got[0]
        if got[0] == 0 or done >= sum(len(v) for v in views):
            return done, None, None, 0


def bytes_readable(sock: UnixSocket) -> int:
    if (remote := sock.synced_remote()) is not None:
        return remote.bytes_readable()
    if sock.stream is not None:
        return len(sock.stream)
    assert sock.dgrams is not None
    if sock.conn:
        return sock.dgrams.size  # Linux counts every queued seqpacket byte
    return max(0, sock.dgrams.next_size())


def _held(rights: list[OpenFile] | None, peek: bool) -> list[OpenFile] | None:
    """Rights a receive hands out: a peek leaves the queued ones and gives new references."""
    if rights and peek:
        for file in rights:
            file.refs += 1
        return list(rights)
    return rights


async def _count_only(pending: Awaitable[Received]) -> int:
    n, _addr, rights, _flags = await pending
    drop_rights(rights)
    return n


def _advance(views: list[memoryview], skip: int) -> list[memoryview]:
    out = []
    for view in views:
        if skip >= len(view):
            skip -= len(view)
            continue
        out.append(view[skip:])
        skip = 0
    return out
