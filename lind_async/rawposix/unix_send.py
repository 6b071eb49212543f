"""Sending on an AF_UNIX socket (``unix_socket.py``): ``sendmsg`` and ``send``, as functions of
the socket that :class:`~lind_async.rawposix.unix_socket.UnixSocket` binds as its methods.

Theory of operation
-------------------
A send writes into the *receiver's* queue: the peer's :class:`StreamBuffer` for a stream, the
target's :class:`DatagramQueue` for a datagram or seqpacket message. A socket fronting a host
connection (``sock.remote``) sends there instead.

*Flow control* is Linux's: whatever a socket sent and its peer has not consumed is charged to the
sender's :class:`SendAccount` (``SO_SNDBUF``, the kernel's skb sizes), and a send starts a new
piece only below it. A stream send copies the guest's bytes piece by piece as the account allows
(:class:`_Pending`: a huge send holds about one ``SO_SNDBUF`` of host memory), waits on its own
``sendq`` (charges came back) and returns the bytes sent so far if interrupted after some went
out. A message is all or nothing: larger than ``SO_SNDBUF - 32`` is ``EMSGSIZE``; otherwise
:func:`_deliver` queues it, or names the queue to wait on — the sender's ``sendq`` while its
account is full, or the receiver's ``roomq`` while more than ``max_dgram_qlen`` messages wait
at a receiver not connected back to the sender.

*Errors.* A stream whose peer is gone fails with ``EPIPE`` and raises ``SIGPIPE`` unless
``MSG_NOSIGNAL``; messages never raise ``SIGPIPE``, and a datagram socket sending to a closed
peer gets ``ECONNREFUSED`` and is disconnected.

*Rights.* ``SCM_RIGHTS`` ride in a one-slot :data:`Box`: the first piece or the message that is
queued takes them (the box is emptied), and whatever is left in it when the send ends — it
failed, or was cancelled while waiting — is dropped (:func:`drop_rights`), so each in-flight
reference is released exactly once.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import (
    EAGAIN,
    ECONNREFUSED,
    EISCONN,
    EMSGSIZE,
    ENOTCONN,
    EOPNOTSUPP,
    EPERM,
    EPIPE,
    GuestError,
)
from lind_async.core.fdtable import OpenFile
from lind_async.core.sockbuf import Datagram, dgram_truesize, stream_piece, stream_truesize
from lind_async.rawposix.blocking import WaitQueue
from lind_async.rawposix.sock_addr import unix_sockaddr
from lind_async.rawposix.sock_base import SIGPIPE, drop_rights
from lind_async.rawposix.unix_connect import CONNECTED
from lind_async.rawposix.unix_names import lookup
from lind_async.rawposix.unix_wait import wait_on

if TYPE_CHECKING:
    from lind_async.rawposix.files import SysResult
    from lind_async.rawposix.kernel import CageView
    from lind_async.rawposix.unix_socket import UnixSocket

__all__ = ["send_from", "sendmsg"]

Box = list[list[OpenFile] | None]  # rights of a send until a receiver's queue holds them


def send_from(sock: UnixSocket, cage: CageView, view: memoryview, flags: int) -> SysResult:
    return sock.sendmsg(cage, [view], flags, None, None)


def sendmsg(
    sock: UnixSocket,
    cage: CageView,
    views: list[memoryview],
    flags: int,
    address: bytes | None,
    rights: list[OpenFile] | None,
) -> SysResult:
    if (remote := sock.synced_remote()) is not None:
        if address and not sock.conn:
            drop_rights(rights)
            raise GuestError(EISCONN)  # connected to a host socket: no other destination
        return remote.sendmsg(cage, views, flags, None, rights)
    box: Box = [rights or None]
    try:
        if sock.stream is not None:
            if address:
                raise GuestError(EISCONN if sock.state == CONNECTED else EOPNOTSUPP)
            result = _stream_send(sock, cage, _Pending(views), flags, box)
        else:
            data = bytes(views[0]) if len(views) == 1 else b"".join(views)
            result = _msg_send(sock, cage, data, flags, address, box)
    except BaseException:
        drop_rights(box[0])
        raise
    if result.__class__ is int:
        drop_rights(box[0])
        return result
    return _guard_rights(result, box)  # type: ignore[arg-type]


def _stream_send(
    sock: UnixSocket, cage: CageView, data: _Pending, flags: int, box: Box
) -> SysResult:
    peer = _stream_peer(sock, cage, flags)
    if not data.size:
        return 0
    n = _write_some(sock, peer, data, 0, box)
    if n == data.size or sock.nonblocking(flags):
        if n:
            return n
        raise GuestError(EAGAIN)
    return _stream_send_later(sock, cage, data, flags, n, box)


def _stream_peer(sock: UnixSocket, cage: CageView, flags: int) -> UnixSocket:
    if sock.state != CONNECTED:
        raise GuestError(ENOTCONN)
    peer = sock.peer
    if sock.wr_shut or peer is None or peer.closed:
        if not flags & F.MSG_NOSIGNAL:
            cage.post_signal(SIGPIPE)
        raise GuestError(EPIPE)
    return peer


async def _stream_send_later(
    sock: UnixSocket, cage: CageView, data: _Pending, flags: int, done: int, box: Box
) -> int:
    # Not blocking.block: a send makes partial progress, and an interruption or timeout
    # after some bytes went out returns the count so far.
    deadline = 0.0
    while done < data.size:
        try:
            deadline = await wait_on(cage, [sock.readq, sock.sendq], sock.sndtimeo, deadline)
            peer = _stream_peer(sock, cage, flags if not done else flags | F.MSG_NOSIGNAL)
        except GuestError:
            if done:
                return done
            raise
        done += _write_some(sock, peer, data, done, box)
    return done


def _write_some(sock: UnixSocket, peer: UnixSocket, data: _Pending, done: int, box: Box) -> int:
    """Queue pieces of ``data`` after ``done`` in ``peer``'s stream while this socket's
    send buffer has room to start one; the byte count."""
    stream, account = peer.stream, sock.account
    if stream is None:
        return 0
    n = 0
    while done + n < data.size and not account.full():
        size = stream_piece(data.size - done - n, account.sndbuf)
        stream.write(data.take(done + n, size), box[0], account, stream_truesize(size))
        box[0] = None
        n += size
    if n:
        peer.readq.wake_all()
    return n


def _msg_send(
    sock: UnixSocket, cage: CageView, data: bytes, flags: int, address: bytes | None, box: Box
) -> SysResult:
    if sock.conn:  # seqpacket: connected only, an address is ignored
        if sock.state != CONNECTED:
            raise GuestError(ENOTCONN)
        target = sock.peer
    elif address:
        target = lookup(cage, address, sock.stype)
    else:
        target = sock.peer
    if target is None:
        raise GuestError(ENOTCONN)
    if len(data) > sock.account.sndbuf - 32:
        raise GuestError(EMSGSIZE)
    queue = _deliver(sock, target, data, box)
    if queue is None:
        return len(data)
    if sock.nonblocking(flags):
        raise GuestError(EAGAIN)
    return _msg_send_later(sock, cage, target, data, box)


def _deliver(sock: UnixSocket, target: UnixSocket, data: bytes, box: Box) -> WaitQueue | None:
    """Queue one message for ``target``, or say which queue to wait on (Linux's order of
    checks: pending error, own shutdown, send buffer, then the receiver)."""
    if sock.error:
        err, sock.error = sock.error, 0
        sock.recheck()
        raise GuestError(err)
    if sock.wr_shut:
        raise GuestError(EPIPE)
    if sock.account.full():
        return sock.sendq
    if target.closed:
        if sock.conn:
            raise GuestError(EPIPE)
        if sock.peer is target:
            sock.peer = None
        raise GuestError(ECONNREFUSED)
    if target.peer is not None and target.peer is not sock:
        raise GuestError(EPERM)
    if target.rd_shut:
        raise GuestError(EPIPE)
    assert target.dgrams is not None
    if target.peer is not sock and target.dgrams.full():
        return target.roomq
    sender = b"" if sock.name is None else unix_sockaddr(sock.name)
    charge = dgram_truesize(len(data))
    target.dgrams.push(Datagram(data, sender, box[0], sock.account, charge))
    box[0] = None
    target.readq.wake_all()
    return None


async def _msg_send_later(
    sock: UnixSocket, cage: CageView, target: UnixSocket, data: bytes, box: Box
) -> int:
    # Not blocking.block: each try names the queue to wait on next (the sender's own buffer,
    # or the receiver's room), so the readiness source changes between waits.
    deadline = 0.0
    queue: WaitQueue | None = sock.sendq
    while queue is not None:
        deadline = await wait_on(cage, [queue, sock.readq], sock.sndtimeo, deadline)
        queue = _deliver(sock, target, data, box)
    return len(data)


async def _guard_rights(pending: Awaitable[int], box: Box) -> int:
    try:
        return await pending
    finally:
        drop_rights(box[0])


class _Pending:
    """The guest's bytes of a stream send, copied into the host only as the send buffer allows:
    a send of a huge buffer holds at most about one ``SO_SNDBUF`` of host memory."""

    __slots__ = ("size", "views")

    def __init__(self, views: list[memoryview]) -> None:
        self.views = views
        self.size = sum(len(v) for v in views)

    def take(self, start: int, n: int) -> bytes:
        """Bytes ``[start, start + n)`` of the send."""
        out = bytearray()
        for view in self.views:
            if n <= 0:
                break
            if start >= len(view):
                start -= len(view)
                continue
            piece = view[start : start + n]
            out += piece
            n -= len(piece)
            start = 0
        return bytes(out)
