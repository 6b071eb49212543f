"""AF_UNIX connections (``unix_socket.py``): ``listen``, ``connect`` and ``accept``, as functions
of the socket that :class:`~lind_async.rawposix.unix_socket.UnixSocket` binds as its methods.

*States.* A connection-oriented socket (stream or seqpacket) is :data:`NEW`, then
:data:`LISTENING` (after ``listen``) or :data:`CONNECTED`. A datagram socket stays ``NEW``:
its ``connect`` only sets (or, with ``AF_UNSPEC``, clears) the default peer, and may be repeated.

*Connecting in-process.* ``connect`` to a listener makes the server-side end at once
(:func:`_link`: same type, the listener's name, credentials, send buffer and options) and queues
it on the listener's ``backlog`` for ``accept``. The backlog takes ``max_backlog + 1`` (Linux's
off-by-one); a client finding it full fails with ``EAGAIN`` if non-blocking, else waits on the
listener's ``roomq`` (which ``accept`` wakes) through ``blocking.block``.

*Host sockets* (``host_unix.py``). A name the embedder made host-reachable also has a host
listener: ``accept`` takes host connections from it after the in-process backlog, and waits on
both. A ``connect`` to a path no cage of the world bound (a host process's socket) dials it and
makes the socket a front for the connection (``sock.remote``), attached when the dial completes.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import (
    ECONNREFUSED,
    EINVAL,
    EISCONN,
    EOPNOTSUPP,
    GuestError,
)
from lind_async.rawposix import sigio
from lind_async.rawposix.blocking import block
from lind_async.rawposix.host_unix import HostDial, HostUnixStream
from lind_async.rawposix.sock_addr import family_of, unix_sockaddr
from lind_async.rawposix.sock_base import AcceptResult
from lind_async.rawposix.unix_names import connect_target, credentials
from lind_async.rawposix.unix_wait import ready

if TYPE_CHECKING:
    from lind_async.rawposix.files import SysResult
    from lind_async.rawposix.kernel import CageView
    from lind_async.rawposix.unix_socket import UnixSocket

__all__ = ["CONNECTED", "LISTENING", "NEW", "accept", "connect", "listen"]

NEW, LISTENING, CONNECTED = 0, 1, 2
MAX_BACKLOG = 4096


def listen(sock: UnixSocket, backlog: int) -> None:
    if not sock.conn:
        raise GuestError(EOPNOTSUPP)
    if sock.state == CONNECTED or sock.name is None:
        raise GuestError(EINVAL)
    sock.state = LISTENING
    sock.recheck()
    sock.peer_cred = sock.cred  # Linux: a listener's SO_PEERCRED is its own
    sock.max_backlog = min(max(backlog, 0), MAX_BACKLOG)
    if sock.host is not None:
        sock.host.listen(backlog)
    sock.readq.wake_all()


def connect(sock: UnixSocket, cage: CageView, raw: bytes) -> SysResult:
    if not sock.conn:
        sock.drop_remote()  # a datagram socket may connect again
        if len(raw) >= 2 and family_of(raw) == F.AF_UNSPEC:
            sock.peer = None
            return 0
        target = connect_target(cage, raw, sock.stype)
        if isinstance(target, HostDial):
            return _dial(sock, cage, target)
        sock.peer = target
        sock.peer_cred = target.cred
        return 0
    if sock.state == CONNECTED:
        raise GuestError(EISCONN)
    if sock.state == LISTENING:
        raise GuestError(EINVAL)
    listener = connect_target(cage, raw, sock.stype)
    if isinstance(listener, HostDial):
        return _dial(sock, cage, listener)
    if listener.state != LISTENING:
        raise GuestError(ECONNREFUSED)
    if len(listener.backlog) <= listener.max_backlog:
        _link(sock, listener, cage)
        return 0
    return block(lambda: _connect_again(sock, cage, listener),
                 lambda left: ready(cage, [listener.roomq], left, None),
                 nonblocking=sock.nonblocking(), timeout=sock.sndtimeo)


def _dial(sock: UnixSocket, cage: CageView, dial: HostDial) -> SysResult:
    got = dial.connect(cage, sock.stype, sock.name, sock.nonblocking(), sock.sndtimeo)
    if isinstance(got, HostUnixStream):
        return _attach(sock, got)
    return _dial_later(sock, got)


async def _dial_later(sock: UnixSocket, pending: Awaitable[HostUnixStream]) -> int:
    return _attach(sock, await pending)


def _attach(sock: UnixSocket, remote: HostUnixStream) -> int:
    if sock.remote is not None or sock.state == CONNECTED:  # another thread got there first
        remote.release()
        raise GuestError(EISCONN)
    sock.remote = remote
    sock.peer = None
    if sock.conn:
        sock.state = CONNECTED
    sock.recheck()
    sigio.rearm(sock)  # first: its in-process watch is not an event of the host connection
    sock.wake()
    return 0


def _connect_again(sock: UnixSocket, cage: CageView, listener: UnixSocket) -> int | None:
    if sock.state == CONNECTED:
        raise GuestError(EISCONN)
    if listener.closed or listener.state != LISTENING:
        raise GuestError(ECONNREFUSED)
    if len(listener.backlog) <= listener.max_backlog:
        _link(sock, listener, cage)
        return 0
    return None


def _link(sock: UnixSocket, listener: UnixSocket, cage: CageView) -> None:
    server = type(listener)(sock.stype, 0, listener.cred)  # the accepted end
    server.name = listener.name
    server.state = CONNECTED
    server.peer = sock
    server.peer_cred = credentials(cage)
    server.account.sndbuf = listener.account.sndbuf
    server.options = dict(listener.options)
    sock.state = CONNECTED
    sock.peer = server
    sock.peer_cred = listener.cred
    server.recheck()
    sock.recheck()
    listener.backlog.append(server)
    listener.readq.wake_all()
    sock.readq.wake_all()


def accept(sock: UnixSocket, cage: CageView) -> AcceptResult | Awaitable[AcceptResult]:
    if not sock.conn:
        raise GuestError(EOPNOTSUPP)
    if sock.state != LISTENING:
        raise GuestError(EINVAL)
    if sock.backlog:
        return _accept_now(sock)
    if sock.host is not None:
        got = sock.host.accept_now(sock.stype, sock.name)
        if got is not None:
            return got
    return block(lambda: _accept_again(sock),
                 lambda left: ready(cage, [sock.readq], left, sock.host),
                 nonblocking=sock.nonblocking(), timeout=sock.rcvtimeo)


def _accept_now(sock: UnixSocket) -> AcceptResult:
    server = sock.backlog.popleft()
    sock.roomq.wake_all()
    client = server.peer
    return server, unix_sockaddr(client.name if client is not None else None)


def _accept_again(sock: UnixSocket) -> AcceptResult | None:
    if sock.state != LISTENING:
        raise GuestError(EINVAL)
    if sock.backlog:
        return _accept_now(sock)
    if sock.host is not None:
        return sock.host.accept_now(sock.stype, sock.name)
    return None
