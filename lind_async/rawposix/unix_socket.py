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

*Modules.* Here: the socket's state (:class:`UnixSocket`, one record with ``__slots__``), its
names, shutdown, readiness and close. Its other calls are functions of the socket in modules of
their own, bound in the class body as its methods (so a call costs no extra frame):
``unix_connect.py`` (``listen``/``connect``/``accept`` and the connection states),
``unix_send.py`` (flow control, rights in flight), ``unix_recv.py`` and ``unix_options.py``;
``unix_wait.py`` is how a blocked call waits.
"""

from __future__ import annotations

import itertools
import os
import stat as stat_mod
from collections import deque
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import (
    ECONNRESET,
    EINVAL,
    ENOTCONN,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    GuestError,
)
from lind_async.core.sockbuf import DatagramQueue, SendAccount, StreamBuffer
from lind_async.rawposix import sigio, unix_connect, unix_options, unix_recv, unix_send
from lind_async.rawposix import sock_sysctl as sysctl
from lind_async.rawposix.blocking import WaitQueue
from lind_async.rawposix.readiness import Cancel, Wake
from lind_async.rawposix.sock_addr import unix_name, unix_sockaddr
from lind_async.rawposix.sock_base import Socket, drop_rights
from lind_async.rawposix.unix_connect import CONNECTED, LISTENING, NEW
from lind_async.rawposix.unix_names import credentials, register, unregister

if TYPE_CHECKING:
    from lind_async.rawposix.host_unix import HostListener, HostUnixStream
    from lind_async.rawposix.kernel import CageView

__all__ = ["UnixSocket", "credentials", "new_pair", "unix_type"]

_READABLE = F.POLLIN | F.POLLRDNORM
_WRITABLE = F.POLLOUT | F.POLLWRNORM
SOCK_MAX = 11  # types at or above it are EINVAL before the family is asked
_SOCK_DEVICE = 0x5CE7  # a pseudo device number for in-process socket inodes
_inodes = itertools.count(1)


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
    """An in-process AF_UNIX socket (see the module docstring). The functions bound below as
    methods take the socket as their first argument and use its attributes directly; what they
    share with this class is public here (:meth:`synced_remote`, :meth:`drop_remote`,
    :meth:`wake`)."""

    __slots__ = (
        "account", "backlog", "closed", "conn", "cred", "dgrams", "error", "host", "hot", "inode",
        "key",
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
        self.hot: StreamBuffer | None = None  # see recheck
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
        if (remote := self.synced_remote()) is not None:
            return remote.peername()
        if self.peer is None or (self.conn and self.state != CONNECTED):
            raise GuestError(ENOTCONN)
        return unix_sockaddr(self.peer.name)

    # -- connections (unix_connect.py) ----------------------------------------------------------
    listen = unix_connect.listen
    connect = unix_connect.connect
    accept = unix_connect.accept

    # -- the host connection, shutdown ----------------------------------------------------------
    def synced_remote(self) -> HostUnixStream | None:
        """The host connection this socket fronts, brought up to date with the description's
        status flags and timeouts (``fcntl``/``setsockopt`` change them here)."""
        remote = self.remote
        if remote is not None:
            remote.status_flags = self.status_flags
            remote.rcvtimeo, remote.sndtimeo = self.rcvtimeo, self.sndtimeo
        return remote

    def drop_remote(self) -> None:
        remote, self.remote = self.remote, None
        self.recheck()
        if remote is not None:
            remote.release()

    def recheck(self) -> None:
        """Keep ``hot`` current: the stream while this is a plain connected in-process stream
        (connected, no host connection, no pending error, neither direction shut), else None.
        Every change of those attributes calls this; ``poll_mask``'s short path and epoll's
        probe (rawposix/epoll.py) read the one attribute instead of the five."""
        self.hot = self.stream if (
            self.state == CONNECTED and self.remote is None
            and not (self.error or self.rd_shut or self.wr_shut)
        ) else None

    def shutdown(self, how: int) -> None:
        if how not in (F.SHUT_RD, F.SHUT_WR, F.SHUT_RDWR):
            raise GuestError(EINVAL)
        if (remote := self.synced_remote()) is not None:
            remote.shutdown(how)
            return
        rd, wr = how != F.SHUT_WR, how != F.SHUT_RD
        self.rd_shut |= rd
        self.wr_shut |= wr
        self.recheck()
        self.wake()
        peer = self.peer
        if self.conn and peer is not None and self.state == CONNECTED:
            peer.wr_shut |= rd
            peer.rd_shut |= wr
            peer.recheck()
            peer.wake()

    def wake(self) -> None:
        """Wake every waiter of this socket (its state changed)."""
        self.readq.wake_all()
        self.roomq.wake_all()
        self.sendq.wake_all()

    # -- data and options (unix_send.py, unix_recv.py, unix_options.py) ------------------------
    send_from = unix_send.send_from
    sendmsg = unix_send.sendmsg
    recv_into = unix_recv.recv_into
    recvmsg = unix_recv.recvmsg
    bytes_readable = unix_recv.bytes_readable
    set_option = unix_options.set_option
    get_option = unix_options.get_option

    # -- readiness, stat, close -----------------------------------------------------------------
    def poll_mask(self) -> int:
        stream = self.hot
        if stream is not None:  # a connected stream (epoll's hot path): the answer below, short
            account = self.account
            mask = _READABLE if stream.size else 0
            return mask | _WRITABLE if account.wmem * 4 <= account.sndbuf else mask
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
        self.drop_remote()
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
            peer.recheck()
            peer.wake()
        self.wake()
        drop_rights(lost)  # type: ignore[arg-type]
        for server in pending:  # connections never accepted: their clients see a reset
            if server.peer is not None:
                server.peer.error = ECONNRESET
                server.peer.recheck()
            server.release()


def new_pair(stype: int, status_flags: int, cage: CageView) -> tuple[UnixSocket, UnixSocket]:
    """``socketpair``: two connected sockets."""
    cred = credentials(cage)
    a = UnixSocket(stype, status_flags, cred)
    b = UnixSocket(stype, status_flags, cred)
    a.peer, b.peer = b, a
    a.peer_cred = b.peer_cred = cred
    a.state = b.state = CONNECTED
    a.recheck()
    b.recheck()
    return a, b
