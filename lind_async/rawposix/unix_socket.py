"""AF_UNIX sockets, fully in-process: no host socket, any open file can travel with SCM_RIGHTS.

Theory of operation
-------------------
*Kinds.* ``SOCK_STREAM`` (bytes), ``SOCK_SEQPACKET`` (connected, messages) and ``SOCK_DGRAM``
(messages, connection optional; ``SOCK_RAW`` is ``SOCK_DGRAM``, as Linux makes it). Streams and
seqpackets are *connection-oriented* (``conn``): ``listen``/``accept``, and a peer's ``shutdown``
or close reaches the other end.

*Names* (``unix_names.py``): bound path names are socket nodes inside the root, abstract names
bytes; both are registered per *world* (one root of one microvisor), so no socket crosses worlds.
A path name the embedder made host-reachable also holds a host listener (``host_unix.py``):
``accept`` and poll take host connections from it after the in-process backlog. Under the same
opt-in a ``connect`` to a socket no cage of the world bound (a host process's) makes the socket a
front for a host connection (``remote``, a ``HostUnixStream``): its data calls, readiness,
options and shutdown go there. An empty address autobinds an abstract name, as Linux does.

*Streams.* Each socket receives into its own :class:`StreamBuffer`; a send writes pieces into the
peer's. ``connect`` to a listener makes the server-side end at once and queues it for
``accept`` (``EAGAIN``/wait when the backlog is full). Closing an end shuts the survivor both
ways: it reads what is left then end-of-file (``ECONNRESET`` if the closed end had unread data)
and its writes fail with ``EPIPE`` (plus ``SIGPIPE`` unless ``MSG_NOSIGNAL``).

*Messages.* Datagram and seqpacket sockets receive into a :class:`DatagramQueue` of whole
messages with the sender's address. A message larger than ``SO_SNDBUF - 32`` is ``EMSGSIZE``. A
receiver not connected back to the sender refuses it while more than ``max_dgram_qlen`` wait.
Unlike streams they never raise ``SIGPIPE``; a datagram socket sending to a closed peer gets
``ECONNREFUSED`` and is disconnected.

*Flow control* is Linux's: whatever a socket sent and its peer has not consumed is charged to the
sender's :class:`SendAccount` (``SO_SNDBUF``, the kernel's skb sizes), a send starts a new piece
only below it, and ``POLLOUT`` means a quarter or less is in use. Buffer sizes and the queue
length come from the host's sysctls (``sock_sysctl.py``).

*Rights.* ``SCM_RIGHTS`` carry :class:`OpenFile` references, each holding one in-flight
reference until the receiver installs it (``sockets.py``) or the message is discarded. A peek
hands out extra references (the receiver installs copies, as Linux's ``unix_peek_fds``).

*Waiting.* Three wait queues per socket: ``readq`` (data, end-of-file, a connection to accept or
a state change arrived), ``roomq`` (its queue got shorter: the peer's writers and connecting
clients wait on it) and ``sendq`` (its own charges came back). Their watchers feed poll/epoll.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import stat as stat_mod
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import (
    EAGAIN,
    ECONNREFUSED,
    ECONNRESET,
    EINVAL,
    EISCONN,
    EMSGSIZE,
    ENOPROTOOPT,
    ENOTCONN,
    EOPNOTSUPP,
    EPERM,
    EPIPE,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    GuestError,
)
from lind_async.core.fdtable import OpenFile
from lind_async.core.sockbuf import (
    Datagram,
    DatagramQueue,
    SendAccount,
    StreamBuffer,
    dgram_truesize,
    stream_piece,
    stream_truesize,
)
from lind_async.rawposix import sigio
from lind_async.rawposix import sock_sysctl as sysctl
from lind_async.rawposix.blocking import WaitQueue, block
from lind_async.rawposix.host_unix import HostDial, HostUnixStream
from lind_async.rawposix.readiness import Cancel, Wake
from lind_async.rawposix.sock_addr import family_of, unix_name, unix_sockaddr
from lind_async.rawposix.sock_base import (
    SIGPIPE,
    AcceptResult,
    Received,
    RecvResult,
    Socket,
    drop_rights,
    int_option,
    pack_int,
)
from lind_async.rawposix.unix_names import (
    connect_target,
    credentials,
    lookup,
    register,
    unregister,
)

if TYPE_CHECKING:
    from lind_async.rawposix.files import SysResult
    from lind_async.rawposix.host_unix import HostListener
    from lind_async.rawposix.kernel import CageView

__all__ = ["UnixSocket", "credentials", "new_pair", "unix_type"]

NEW, LISTENING, CONNECTED = 0, 1, 2
MAX_BACKLOG = 4096
SOCK_MAX = 11  # types at or above it are EINVAL before the family is asked
_SOCK_DEVICE = 0x5CE7  # a pseudo device number for in-process socket inodes
_inodes = itertools.count(1)
_STORED_OPTIONS = (F.SO_REUSEADDR, F.SO_KEEPALIVE, F.SO_PASSCRED, F.SO_BROADCAST, F.SO_REUSEPORT,
                   F.SO_OOBINLINE, F.SO_PRIORITY, F.SO_RCVLOWAT, F.SO_DONTROUTE)  # fmt: skip
_BOOLEANS = frozenset((F.SO_REUSEADDR, F.SO_KEEPALIVE, F.SO_PASSCRED, F.SO_BROADCAST,
                       F.SO_REUSEPORT, F.SO_OOBINLINE, F.SO_DONTROUTE))  # fmt: skip
_DEFAULTS = {F.SO_RCVLOWAT: 1}
_INT_MAX = 0x7FFFFFFF
Box = list[list[OpenFile] | None]  # rights of a send until a receiver's queue holds them


def unix_type(stype: int, protocol: int) -> int:
    """The AF_UNIX type ``socket``/``socketpair`` make for ``stype`` (Linux's checks and
    order: protocol, then type; ``SOCK_RAW`` is a datagram socket)."""
    if not 0 <= stype < SOCK_MAX:
        raise GuestError(EINVAL)
    if protocol not in (0, F.AF_UNIX):
        raise GuestError(EPROTONOSUPPORT)
    if stype == F.SOCK_RAW:
        return F.SOCK_DGRAM
    if stype not in (F.SOCK_STREAM, F.SOCK_DGRAM, F.SOCK_SEQPACKET):
        raise GuestError(ESOCKTNOSUPPORT)
    return stype


class UnixSocket(Socket):
    """An in-process AF_UNIX socket (see the module docstring)."""

    __slots__ = (
        "account", "backlog", "closed", "conn", "cred", "dgrams", "error", "host", "inode", "key",
        "max_backlog", "name", "node_fd", "options", "peer", "peer_cred", "rd_shut", "readq",
        "remote", "roomq", "sendq", "state", "stream", "wr_shut",
    )  # fmt: skip

    def __init__(self, stype: int, status_flags: int, cred: tuple[int, int, int]) -> None:
        super().__init__(F.AF_UNIX, stype, 0, status_flags)
        self.state = NEW
        self.conn = stype != F.SOCK_DGRAM
        self.peer: UnixSocket | None = None
        self.name: bytes | None = None
        self.key: tuple[object, ...] | None = None
        self.node_fd = -1
        self.host: HostListener | None = None  # a host-reachable name's listener (host_unix.py)
        self.remote: HostUnixStream | None = None  # connected to a host socket (host_unix.py)
        self.backlog: deque[UnixSocket] = deque()
        self.max_backlog = 0
        self.stream = StreamBuffer() if stype == F.SOCK_STREAM else None
        self.dgrams = DatagramQueue(sysctl.MAX_DGRAM_QLEN) if self.stream is None else None
        self.readq = WaitQueue()
        self.roomq = WaitQueue()
        self.sendq = WaitQueue()
        self.account = SendAccount(sysctl.WMEM_DEFAULT, self.sendq.wake_all)
        self.rd_shut = False
        self.wr_shut = False
        self.closed = False
        self.error = 0
        self.cred = cred
        self.peer_cred: tuple[int, int, int] = (0, -1 & 0xFFFFFFFF, -1 & 0xFFFFFFFF)
        self.options = {F.SO_RCVBUF: sysctl.RMEM_DEFAULT}
        self.inode = next(_inodes)

    # -- names --------------------------------------------------------------------------------
    def bind(self, cage: CageView, raw: bytes) -> None:
        name = unix_name(raw)
        if self.name is not None:
            raise GuestError(EINVAL)
        self.name, self.key, self.node_fd, self.host = register(cage, name, self)
        if self.host is not None:
            sigio.rearm(self)

    def sockname(self) -> bytes:
        return unix_sockaddr(self.name)

    def peername(self) -> bytes:
        if (remote := self._remote()) is not None:
            return remote.peername()
        if self.peer is None or (self.conn and self.state != CONNECTED):
            raise GuestError(ENOTCONN)
        return unix_sockaddr(self.peer.name)

    # -- connections ----------------------------------------------------------------------------
    def listen(self, backlog: int) -> None:
        if not self.conn:
            raise GuestError(EOPNOTSUPP)
        if self.state == CONNECTED or self.name is None:
            raise GuestError(EINVAL)
        self.state = LISTENING
        self.peer_cred = self.cred  # Linux: a listener's SO_PEERCRED is its own
        self.max_backlog = min(max(backlog, 0), MAX_BACKLOG)
        if self.host is not None:
            self.host.listen(backlog)
        self.readq.wake_all()

    def connect(self, cage: CageView, raw: bytes) -> SysResult:
        if not self.conn:
            self._drop_remote()  # a datagram socket may connect again
            if len(raw) >= 2 and family_of(raw) == F.AF_UNSPEC:
                self.peer = None
                return 0
            target = connect_target(cage, raw, self.stype)
            if isinstance(target, HostDial):
                return self._dial(cage, target)
            self.peer = target
            self.peer_cred = target.cred
            return 0
        if self.state == CONNECTED:
            raise GuestError(EISCONN)
        if self.state == LISTENING:
            raise GuestError(EINVAL)
        listener = connect_target(cage, raw, self.stype)
        if isinstance(listener, HostDial):
            return self._dial(cage, listener)
        if listener.state != LISTENING:
            raise GuestError(ECONNREFUSED)
        if len(listener.backlog) <= listener.max_backlog:
            self._link(listener, cage)
            return 0
        return block(lambda: self._connect_again(cage, listener),
                     lambda left: _ready(cage, [listener.roomq], left, None),
                     nonblocking=self.nonblocking(), timeout=self.sndtimeo)

    def _dial(self, cage: CageView, dial: HostDial) -> SysResult:
        got = dial.connect(cage, self.stype, self.name, self.nonblocking(), self.sndtimeo)
        if isinstance(got, HostUnixStream):
            return self._attach(got)
        return self._dial_later(got)

    async def _dial_later(self, pending: Awaitable[HostUnixStream]) -> int:
        return self._attach(await pending)

    def _attach(self, remote: HostUnixStream) -> int:
        if self.remote is not None or self.state == CONNECTED:  # another thread got there first
            remote.release()
            raise GuestError(EISCONN)
        self.remote = remote
        self.peer = None
        if self.conn:
            self.state = CONNECTED
        sigio.rearm(self)  # first: its in-process watch is not an event of the host connection
        self._wake()
        return 0

    def _remote(self) -> HostUnixStream | None:
        """The host connection this socket fronts, brought up to date with the description's
        status flags and timeouts (``fcntl``/``setsockopt`` change them here)."""
        remote = self.remote
        if remote is not None:
            remote.status_flags = self.status_flags
            remote.rcvtimeo, remote.sndtimeo = self.rcvtimeo, self.sndtimeo
        return remote

    def _drop_remote(self) -> None:
        remote, self.remote = self.remote, None
        if remote is not None:
            remote.release()

    def _connect_again(self, cage: CageView, listener: UnixSocket) -> int | None:
        if self.state == CONNECTED:
            raise GuestError(EISCONN)
        if listener.closed or listener.state != LISTENING:
            raise GuestError(ECONNREFUSED)
        if len(listener.backlog) <= listener.max_backlog:
            self._link(listener, cage)
            return 0
        return None

    def _link(self, listener: UnixSocket, cage: CageView) -> None:
        server = UnixSocket(self.stype, 0, listener.cred)
        server.name = listener.name
        server.state = CONNECTED
        server.peer = self
        server.peer_cred = credentials(cage)
        server.account.sndbuf = listener.account.sndbuf
        server.options = dict(listener.options)
        self.state = CONNECTED
        self.peer = server
        self.peer_cred = listener.cred
        listener.backlog.append(server)
        listener.readq.wake_all()
        self.readq.wake_all()

    def accept(self, cage: CageView) -> AcceptResult | Awaitable[AcceptResult]:
        if not self.conn:
            raise GuestError(EOPNOTSUPP)
        if self.state != LISTENING:
            raise GuestError(EINVAL)
        if self.backlog:
            return self._accept_now()
        if self.host is not None:
            got = self.host.accept_now(self.stype, self.name)
            if got is not None:
                return got
        return block(self._accept_again, lambda left: _ready(cage, [self.readq], left, self.host),
                     nonblocking=self.nonblocking(), timeout=self.rcvtimeo)

    def _accept_now(self) -> AcceptResult:
        server = self.backlog.popleft()
        self.roomq.wake_all()
        client = server.peer
        return server, unix_sockaddr(client.name if client is not None else None)

    def _accept_again(self) -> AcceptResult | None:
        if self.state != LISTENING:
            raise GuestError(EINVAL)
        if self.backlog:
            return self._accept_now()
        if self.host is not None:
            return self.host.accept_now(self.stype, self.name)
        return None

    def shutdown(self, how: int) -> None:
        if how not in (F.SHUT_RD, F.SHUT_WR, F.SHUT_RDWR):
            raise GuestError(EINVAL)
        if (remote := self._remote()) is not None:
            remote.shutdown(how)
            return
        rd, wr = how != F.SHUT_WR, how != F.SHUT_RD
        self.rd_shut |= rd
        self.wr_shut |= wr
        self._wake()
        peer = self.peer
        if self.conn and peer is not None and self.state == CONNECTED:
            peer.wr_shut |= rd
            peer.rd_shut |= wr
            peer._wake()

    def _wake(self) -> None:
        self.readq.wake_all()
        self.roomq.wake_all()
        self.sendq.wake_all()

    # -- sending --------------------------------------------------------------------------------
    def send_from(self, cage: CageView, view: memoryview, flags: int) -> SysResult:
        return self.sendmsg(cage, [view], flags, None, None)

    def sendmsg(
        self,
        cage: CageView,
        views: list[memoryview],
        flags: int,
        address: bytes | None,
        rights: list[OpenFile] | None,
    ) -> SysResult:
        if (remote := self._remote()) is not None:
            if address and not self.conn:
                drop_rights(rights)
                raise GuestError(EISCONN)  # connected to a host socket: no other destination
            return remote.sendmsg(cage, views, flags, None, rights)
        box: Box = [rights or None]
        try:
            if self.stream is not None:
                if address:
                    raise GuestError(EISCONN if self.state == CONNECTED else EOPNOTSUPP)
                result = self._stream_send(cage, _Pending(views), flags, box)
            else:
                data = bytes(views[0]) if len(views) == 1 else b"".join(views)
                result = self._msg_send(cage, data, flags, address, box)
        except BaseException:
            drop_rights(box[0])
            raise
        if result.__class__ is int:
            drop_rights(box[0])
            return result
        return _guard_rights(result, box)  # type: ignore[arg-type]

    def _stream_send(self, cage: CageView, data: _Pending, flags: int, box: Box) -> SysResult:
        peer = self._stream_peer(cage, flags)
        if not data.size:
            return 0
        n = self._write_some(peer, data, 0, box)
        if n == data.size or self.nonblocking(flags):
            if n:
                return n
            raise GuestError(EAGAIN)
        return self._stream_send_later(cage, data, flags, n, box)

    def _stream_peer(self, cage: CageView, flags: int) -> UnixSocket:
        if self.state != CONNECTED:
            raise GuestError(ENOTCONN)
        peer = self.peer
        if self.wr_shut or peer is None or peer.closed:
            if not flags & F.MSG_NOSIGNAL:
                cage.post_signal(SIGPIPE)
            raise GuestError(EPIPE)
        return peer

    async def _stream_send_later(
        self, cage: CageView, data: _Pending, flags: int, done: int, box: Box
    ) -> int:
        # Not blocking.block: a send makes partial progress, and an interruption or timeout
        # after some bytes went out returns the count so far.
        deadline = 0.0
        while done < data.size:
            try:
                deadline = await _wait_on(cage, [self.readq, self.sendq], self.sndtimeo, deadline)
                peer = self._stream_peer(cage, flags if not done else flags | F.MSG_NOSIGNAL)
            except GuestError:
                if done:
                    return done
                raise
            done += self._write_some(peer, data, done, box)
        return done

    def _write_some(self, peer: UnixSocket, data: _Pending, done: int, box: Box) -> int:
        """Queue pieces of ``data`` after ``done`` in ``peer``'s stream while this socket's
        send buffer has room to start one; the byte count."""
        stream, account = peer.stream, self.account
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
        self, cage: CageView, data: bytes, flags: int, address: bytes | None, box: Box
    ) -> SysResult:
        if self.conn:  # seqpacket: connected only, an address is ignored
            if self.state != CONNECTED:
                raise GuestError(ENOTCONN)
            target = self.peer
        elif address:
            target = lookup(cage, address, self.stype)
        else:
            target = self.peer
        if target is None:
            raise GuestError(ENOTCONN)
        if len(data) > self.account.sndbuf - 32:
            raise GuestError(EMSGSIZE)
        queue = self._deliver(target, data, box)
        if queue is None:
            return len(data)
        if self.nonblocking(flags):
            raise GuestError(EAGAIN)
        return self._msg_send_later(cage, target, data, box)

    def _deliver(self, target: UnixSocket, data: bytes, box: Box) -> WaitQueue | None:
        """Queue one message for ``target``, or say which queue to wait on (Linux's order of
        checks: pending error, own shutdown, send buffer, then the receiver)."""
        if self.error:
            err, self.error = self.error, 0
            raise GuestError(err)
        if self.wr_shut:
            raise GuestError(EPIPE)
        if self.account.full():
            return self.sendq
        if target.closed:
            if self.conn:
                raise GuestError(EPIPE)
            if self.peer is target:
                self.peer = None
            raise GuestError(ECONNREFUSED)
        if target.peer is not None and target.peer is not self:
            raise GuestError(EPERM)
        if target.rd_shut:
            raise GuestError(EPIPE)
        assert target.dgrams is not None
        if target.peer is not self and target.dgrams.full():
            return target.roomq
        sender = b"" if self.name is None else unix_sockaddr(self.name)
        charge = dgram_truesize(len(data))
        target.dgrams.push(Datagram(data, sender, box[0], self.account, charge))
        box[0] = None
        target.readq.wake_all()
        return None

    async def _msg_send_later(
        self, cage: CageView, target: UnixSocket, data: bytes, box: Box,
    ) -> int:
        # Not blocking.block: each try names the queue to wait on next (the sender's own buffer,
        # or the receiver's room), so the readiness source changes between waits.
        deadline = 0.0
        queue: WaitQueue | None = self.sendq
        while queue is not None:
            deadline = await _wait_on(cage, [queue, self.readq], self.sndtimeo, deadline)
            queue = self._deliver(target, data, box)
        return len(data)

    # -- receiving ------------------------------------------------------------------------------
    def recv_into(self, cage: CageView, view: memoryview, flags: int) -> SysResult:
        result = self.recvmsg(cage, [view], flags)
        if result.__class__ is tuple:
            n, _addr, rights, _flags = result
            drop_rights(rights)  # read(2) discards rights
            return int(n)
        return _count_only(result)  # type: ignore[arg-type]

    def recvmsg(self, cage: CageView, views: list[memoryview], flags: int) -> RecvResult:
        if (remote := self._remote()) is not None:
            return remote.recvmsg(cage, views, flags)
        if self.conn and self.state != CONNECTED:
            raise GuestError(EINVAL if self.stream is not None else ENOTCONN)
        got = self._recv_now(views, flags)
        if got is not None:
            if flags & F.MSG_WAITALL and self.stream is not None and not self.nonblocking(flags):
                want = sum(len(v) for v in views)
                if 0 < got[0] < want and got[2] is None and not flags & F.MSG_PEEK:
                    return self._recv_later(cage, views, flags, got[0])
            return got
        if self.nonblocking(flags):
            raise GuestError(EAGAIN)
        return self._recv_later(cage, views, flags, 0)

    def _recv_now(self, views: list[memoryview], flags: int) -> Received | None:
        """A completed receive, or ``None`` when the caller must wait."""
        peek = bool(flags & F.MSG_PEEK)
        if self.stream is not None:
            n, rights = self.stream.read_into(views, peek=peek)
            if n:
                return n, None, _held(rights, peek), 0
        else:
            assert self.dgrams is not None
            if len(self.dgrams):
                copied, full, dgram = self.dgrams.pop_into(views, peek=peek)
                if not peek:
                    self.roomq.wake_all()
                msg_flags = F.MSG_TRUNC if full > copied else 0
                n = full if flags & F.MSG_TRUNC else copied
                return n, dgram.sender, _held(dgram.rights, peek), msg_flags
        if self.error:
            err, self.error = self.error, 0
            raise GuestError(err)
        if self.rd_shut or (self.stream is not None and not any(len(v) for v in views)):
            return 0, None, None, 0
        return None

    async def _recv_later(
        self, cage: CageView, views: list[memoryview], flags: int, done: int
    ) -> Received:
        # Not blocking.block: MSG_WAITALL makes partial progress (see _stream_send_later).
        deadline = 0.0
        while True:
            try:
                deadline = await _wait_on(cage, [self.readq], self.rcvtimeo, deadline)
            except GuestError:
                if done:
                    return done, None, None, 0
                raise
            rest = _advance(views, done) if done else views
            got = self._recv_now(rest, flags)
            if got is None:
                continue
            if not flags & F.MSG_WAITALL or self.stream is None or got[2] is not None:
                return (got[0] + done, *got[1:])
            done += got[0]
            if got[0] == 0 or done >= sum(len(v) for v in views):
                return done, None, None, 0

    def bytes_readable(self) -> int:
        if (remote := self._remote()) is not None:
            return remote.bytes_readable()
        if self.stream is not None:
            return len(self.stream)
        assert self.dgrams is not None
        if self.conn:
            return self.dgrams.size  # Linux counts every queued seqpacket byte
        return max(0, self.dgrams.next_size())

    # -- options --------------------------------------------------------------------------------
    def set_option(self, level: int, name: int, value: bytes) -> None:
        if (remote := self._remote()) is not None:
            remote.set_option(level, name, value)
            return
        if level != F.SOL_SOCKET:
            raise GuestError(EOPNOTSUPP)
        if name == F.SO_SNDBUF:
            asked = min(int_option(value) & 0xFFFFFFFF, sysctl.WMEM_MAX)
            self.account.sndbuf = max(sysctl.SOCK_MIN_SNDBUF, asked * 2)
            self.sendq.wake_all()
        elif name == F.SO_RCVBUF:
            asked = min(int_option(value) & 0xFFFFFFFF, sysctl.RMEM_MAX)
            self.options[name] = max(sysctl.SOCK_MIN_RCVBUF, asked * 2)
        elif name in _BOOLEANS:
            self.options[name] = int(int_option(value) != 0)
        elif name == F.SO_RCVLOWAT:
            low = int_option(value)
            self.options[name] = _INT_MAX if low < 0 else low or 1
        elif name in _STORED_OPTIONS:
            self.options[name] = int_option(value)
        elif name == F.SO_LINGER:
            if len(value) < 8:
                raise GuestError(EINVAL)
            self.options[F.SO_LINGER] = int_option(value)
            self.options[-F.SO_LINGER] = int_option(value[4:])
        else:
            raise GuestError(ENOPROTOOPT)

    def get_option(self, level: int, name: int, size: int) -> bytes:
        if (remote := self._remote()) is not None:
            return remote.get_option(level, name, size)
        if level != F.SOL_SOCKET:
            raise GuestError(EOPNOTSUPP)
        if name == F.SO_ERROR:
            err, self.error = self.error, 0
            return pack_int(err)
        if name == F.SO_ACCEPTCONN:
            return pack_int(int(self.state == LISTENING))
        if name == F.SO_PEERCRED:
            pid, uid, gid = self.peer_cred
            return pack_int(pid) + uid.to_bytes(4, "little") + gid.to_bytes(4, "little")
        if name == F.SO_LINGER:
            onoff = self.options.get(F.SO_LINGER, 0)
            return pack_int(onoff) + pack_int(self.options.get(-F.SO_LINGER, 0))
        if name == F.SO_SNDBUF:
            return pack_int(self.account.sndbuf)
        if name == F.SO_RCVBUF or name in _STORED_OPTIONS:
            value = self.options.get(name, _DEFAULTS.get(name, 0))
            return pack_int(int(value))
        raise GuestError(ENOPROTOOPT)

    # -- readiness, stat, close -----------------------------------------------------------------
    def poll_mask(self) -> int:
        if (remote := self.remote) is not None:
            return remote.poll_mask()
        mask = F.POLLERR if self.error else 0
        if self.state == LISTENING:
            waiting = self.backlog or (self.host is not None and self.host.readable())
            return mask | (F.POLLIN | F.POLLRDNORM if waiting else 0)
        if self.rd_shut:
            mask |= F.POLLIN | F.POLLRDNORM | F.POLLRDHUP
        if self.rd_shut and self.wr_shut:
            mask |= F.POLLHUP
        if self.conn and self.state != CONNECTED:
            mask |= F.POLLHUP
        if self.stream is not None:
            if len(self.stream):
                mask |= F.POLLIN | F.POLLRDNORM
        else:
            assert self.dgrams is not None
            if len(self.dgrams):
                mask |= F.POLLIN | F.POLLRDNORM
        if self._writable():
            mask |= F.POLLOUT | F.POLLWRNORM
        return mask

    def _writable(self) -> bool:
        if not self.account.writable():
            return False
        peer = self.peer
        if self.conn or peer is None or peer.closed or peer.dgrams is None:
            return True
        return peer.peer is self or not peer.dgrams.full()

    def watch(self, events: int, wake: Wake) -> Cancel:
        if (remote := self.remote) is not None:
            return remote.watch(events, wake)
        if self.host is None or self.state != LISTENING:
            return self._local_watch(events, wake)
        cancels = [self._local_watch(events, wake), self.host.watch(wake)]

        def cancel_both() -> None:
            for each in cancels:
                each()

        return cancel_both

    def async_sources(self) -> tuple[int, sigio.LocalWatch | None]:
        """For signal-driven I/O (``sigio.py``): the host fd whose input events signal (the host
        connection or the host listener; -1: none) and the in-process watch."""
        if self.remote is not None:
            return self.remote.fd, None
        return (self.host.fd if self.host is not None else -1), self._local_watch

    def _local_watch(self, events: int, wake: Wake) -> Cancel:
        cancels = [self.readq.watchers.add(wake)]
        if events & F.POLLOUT:
            cancels.append(self.sendq.watchers.add(wake))
            peer = self.peer
            if peer is not None and not peer.closed:
                cancels.append(peer.roomq.watchers.add(wake))

        def cancel() -> None:
            for each in cancels:
                each()

        return cancels[0] if len(cancels) == 1 else cancel

    def stat(self) -> os.stat_result:
        mode = stat_mod.S_IFSOCK | 0o777
        return os.stat_result(
            (mode, self.inode, _SOCK_DEVICE, 1, os.getuid(), os.getgid(), 0, 0, 0, 0),
            {"st_blksize": 4096},
        )

    def release(self) -> None:
        self.closed = True
        self._drop_remote()
        unregister(self.key, self)
        if self.node_fd >= 0:
            os.close(self.node_fd)
            self.node_fd = -1
        if self.host is not None:
            self.host.close()  # the node stays, as on Linux (unlink removes it)
            self.host = None
        unread = False
        lost: list[object] = []
        if self.stream is not None:
            unread = len(self.stream) > 0
            lost = self.stream.drain()
        elif self.dgrams is not None:
            unread = len(self.dgrams) > 0
            lost = self.dgrams.drain()
        pending, self.backlog = self.backlog, deque()
        peer = self.peer
        if self.conn and peer is not None and self.state == CONNECTED:
            peer.rd_shut = peer.wr_shut = True
            if unread:
                peer.error = ECONNRESET
            peer._wake()
        self._wake()
        drop_rights(lost)  # type: ignore[arg-type]
        for server in pending:  # connections never accepted: their clients see a reset
            if server.peer is not None:
                server.peer.error = ECONNRESET
            server.release()


def new_pair(stype: int, status_flags: int, cage: CageView) -> tuple[UnixSocket, UnixSocket]:
    """``socketpair``: two connected sockets."""
    cred = credentials(cage)
    a = UnixSocket(stype, status_flags, cred)
    b = UnixSocket(stype, status_flags, cred)
    a.peer, b.peer = b, a
    a.peer_cred = b.peer_cred = cred
    a.state = b.state = CONNECTED
    return a, b


def _held(rights: list[OpenFile] | None, peek: bool) -> list[OpenFile] | None:
    """Rights a receive hands out: a peek leaves the queued ones and gives new references."""
    if rights and peek:
        for file in rights:
            file.refs += 1
        return list(rights)
    return rights


async def _wait_on(
    cage: CageView,
    queues: list[WaitQueue],
    timeout: float | None,
    deadline: float,
    host: HostListener | None = None,
) -> float:
    """Wait until one of ``queues`` fires, or ``host`` has a connection (``EAGAIN`` once an
    ``SO_*TIMEO`` passes)."""
    loop = asyncio.get_running_loop()
    left = None
    if timeout is not None:
        now = loop.time()
        if not deadline:
            deadline = now + timeout
        if now >= deadline:
            raise GuestError(EAGAIN)
        left = deadline - now
    await _ready(cage, queues, left, host)
    return deadline


async def _ready(
    cage: CageView, queues: list[WaitQueue], left: float | None, host: HostListener | None
) -> None:
    """Suspend until one of ``queues`` fires, ``host`` has a connection or ``left`` seconds
    pass; ``EINTR`` on a signal (a ``blocking.Wait`` once ``left`` is its only argument)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    cancels = [queue.watchers.add(wake) for queue in queues]
    if host is not None:
        cancels.append(host.watch(wake))
    timer = loop.call_later(left, wake) if left is not None else None
    try:
        await cage.block_on(ready)
    finally:
        if timer is not None:
            timer.cancel()
        for cancel in cancels:
            cancel()


async def _guard_rights(pending: Awaitable[int], box: Box) -> int:
    try:
        return await pending
    finally:
        drop_rights(box[0])


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
