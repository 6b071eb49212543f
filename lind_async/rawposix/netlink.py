"""AF_NETLINK / NETLINK_ROUTE sockets that answer *dumps* of the host's network state: what
musl's ``getifaddrs`` and ``if_nameindex`` (and ``ip addr``-style tools) ask.

Theory of operation
-------------------
The socket is in-process. A request the guest sends is parsed message by message, as the kernel
does (``netlink_rcv_skb``): a message must be ``NLM_F_REQUEST``; control types and non-requests
are only acknowledged when ``NLM_F_ACK`` asks. A *dump* of links, addresses, routes, neighbours
or rules (``RTM_GET{LINK,ADDR,ROUTE,NEIGH,RULE}`` with ``NLM_F_DUMP``) is run on a short-lived
host netlink socket — only its header and fixed family part are forwarded, never attributes (they
could name host namespaces or fds) — and the replies are queued for the guest with its sequence
number and its port id. Everything else, in particular every change (``RTM_NEW*``/``RTM_DEL*``)
and non-dump query, is answered with an ``NLMSG_ERROR`` message (``EPERM`` for changes,
``EOPNOTSUPP`` otherwise): nothing a cage sends can change the host, even when the microvisor
runs as root. No multicast notifications are delivered (membership options are accepted).

Replies wait in the socket until read, up to its receive buffer (``SO_RCVBUF``): a request
that arrives while the replies already queued fill it is answered by nothing, and the next
receive reports ``ENOBUFS`` (Linux's overrun), so a cage cannot grow the queue without bound.
Replies are re-packed into datagrams of at most ``NLMSG_GOODSIZE`` bytes (one bigger message
alone), so a reader with a page-sized buffer never truncates one. The socket's address is
``{AF_NETLINK, port id, groups}``; the kernel's, reported as every reply's sender, has port 0.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import (
    EADDRINUSE,
    ECONNREFUSED,
    EINVAL,
    ENOBUFS,
    ENOPROTOOPT,
    EOPNOTSUPP,
    EPERM,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    GuestError,
)
from lind_async.core.fdtable import OpenFile
from lind_async.core.sockbuf import Datagram, DatagramQueue
from lind_async.rawposix import hostfds
from lind_async.rawposix import sock_sysctl as sysctl
from lind_async.rawposix.blocking import WaitQueue, block, on_queue
from lind_async.rawposix.readiness import Cancel, Wake
from lind_async.rawposix.sock_base import Received, RecvResult, Socket, drop_rights, int_option

if TYPE_CHECKING:
    from lind_async.rawposix.files import SysResult
    from lind_async.rawposix.kernel import CageView

AF_NETLINK = 16
NETLINK_ROUTE = 0
SOL_NETLINK = 270
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE, NLMSG_MIN_TYPE = 2, 3, 16
NLMSG_GOODSIZE = 4096 - 320
# dumpable types -> the size of their fixed family header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg,
# fib_rule_hdr); a shorter request (rtgenmsg) is forwarded as it is
DUMPS = {18: 16, 22: 8, 26: 12, 30: 12, 34: 12}
_HDR = struct.Struct("<IHHII")  # struct nlmsghdr
_ADDR = struct.Struct("<HHII")  # struct sockaddr_nl
KERNEL = _ADDR.pack(AF_NETLINK, 0, 0, 0)
_PORTS: set[tuple[object, int]] = set()  # (world, port id) bound
_next_port = [-4096]


def new_netlink_socket(
    cage: CageView, stype: int, protocol: int, status_flags: int,
) -> NetlinkSocket:
    if stype not in (F.SOCK_RAW, F.SOCK_DGRAM):
        raise GuestError(ESOCKTNOSUPPORT)
    if protocol != NETLINK_ROUTE:
        raise GuestError(EPROTONOSUPPORT)
    return NetlinkSocket(cage, stype, status_flags)


class NetlinkSocket(Socket):
    """A NETLINK_ROUTE socket answering dumps (see the module docstring)."""

    __slots__ = ("error", "groups", "options", "port", "queue", "readq", "world")

    def __init__(self, cage: CageView, stype: int, status_flags: int) -> None:
        super().__init__(AF_NETLINK, stype, NETLINK_ROUTE, status_flags)
        self.world: object = cage.world
        self.port = 0  # 0: not bound yet (the first send or getsockname binds)
        self.groups = 0
        self.queue = DatagramQueue(max_count=1 << 30)
        self.readq = WaitQueue()
        self.options: dict[tuple[int, int], int] = {}
        self.error = 0

    # -- address --------------------------------------------------------------------------------
    def _autobind(self, cage: CageView) -> None:
        if self.port:
            return
        port = cage.cage_id
        while (self.world, port) in _PORTS:  # Linux: the pid first, then negative numbers
            port = _next_port[0]
            _next_port[0] -= 1
        self.port = port
        _PORTS.add((self.world, port))

    def bind(self, cage: CageView, raw: bytes) -> None:
        if len(raw) < _ADDR.size:
            raise GuestError(EINVAL)
        family, _pad, port, groups = _ADDR.unpack_from(raw)
        if family != AF_NETLINK:
            raise GuestError(EINVAL)
        port = _signed(port)
        if port and port != self.port:
            if self.port:
                raise GuestError(EINVAL)
            if (self.world, port) in _PORTS:
                raise GuestError(EADDRINUSE)
            self.port = port
            _PORTS.add((self.world, port))
        self._autobind(cage)
        self.groups = groups

    def connect(self, cage: CageView, raw: bytes) -> SysResult:
        self._check_kernel(raw)
        self._autobind(cage)
        return 0

    def sockname(self) -> bytes:
        return _ADDR.pack(AF_NETLINK, 0, self.port & 0xFFFFFFFF, self.groups)

    def peername(self) -> bytes:
        return KERNEL

    def shutdown(self, how: int) -> None:
        return None

    @staticmethod
    def _check_kernel(raw: bytes) -> None:
        if len(raw) < _ADDR.size or _ADDR.unpack_from(raw)[0] != AF_NETLINK:
            raise GuestError(EINVAL)
        if _ADDR.unpack_from(raw)[2] != 0:
            raise GuestError(ECONNREFUSED)  # unicast to another socket: nobody is there

    # -- requests -------------------------------------------------------------------------------
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
        drop_rights(rights)
        if address:
            self._check_kernel(address)
        self._autobind(cage)
        data = bytes(views[0]) if len(views) == 1 else b"".join(views)
        if self.queue.size >= self._rcvbuf():
            self.error = ENOBUFS  # the replies would overrun the receiver: dropped
            self.readq.wake_all()
            return len(data)
        replies: list[bytes] = []
        offset = 0
        while offset + _HDR.size <= len(data):
            length = _HDR.unpack_from(data, offset)[0]
            if length < _HDR.size or length > len(data) - offset:
                break
            replies += self._answer(data[offset : offset + length])
            offset += (length + 3) & ~3
        self._queue_replies(replies)
        return len(data)

    def _answer(self, message: bytes) -> list[bytes]:
        _len, kind, flags, seq, _pid = _HDR.unpack_from(message)
        if not flags & NLM_F_REQUEST or kind < NLMSG_MIN_TYPE:
            return [self._error(message, 0, ack=True)] if flags & NLM_F_ACK else []
        if kind in DUMPS and flags & NLM_F_DUMP == NLM_F_DUMP:
            body = message[_HDR.size : _HDR.size + DUMPS[kind]]
            request = _HDR.pack(_HDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
            return self._rewrite(_host_dump(request + body))
        refused = EPERM if kind % 4 != 2 else EOPNOTSUPP  # RTM_NEW*/DEL*/SET*: changes
        return [self._error(message, refused, ack=False)]

    def _error(self, message: bytes, err: int, *, ack: bool) -> bytes:
        """An ``NLMSG_ERROR`` answer: the error and the request's header (its whole message
        for a failure, as Linux without ``NETLINK_CAP_ACK``)."""
        echoed = message[: _HDR.size] if ack or not err else message
        seq = _HDR.unpack_from(message)[3]
        payload = struct.pack("<i", -err) + echoed
        return _HDR.pack(_HDR.size + len(payload), NLMSG_ERROR, 0, seq, self.port & 0xFFFFFFFF) + (
            payload
        )

    def _rewrite(self, messages: list[bytes]) -> list[bytes]:
        port = (self.port & 0xFFFFFFFF).to_bytes(4, "little")
        return [m[:12] + port + m[16:] for m in messages]

    def _queue_replies(self, replies: list[bytes]) -> None:
        chunk = b""
        for message in replies:
            padded = message + b"\0" * (-len(message) % 4)
            if chunk and len(chunk) + len(padded) > NLMSG_GOODSIZE:
                self.queue.push(Datagram(chunk, KERNEL))
                chunk = b""
            chunk += padded
        if chunk:
            self.queue.push(Datagram(chunk, KERNEL))
        if replies:
            self.readq.wake_all()

    # -- replies --------------------------------------------------------------------------------
    def recv_into(self, cage: CageView, view: memoryview, flags: int) -> SysResult:
        result = self.recvmsg(cage, [view], flags)
        if result.__class__ is tuple:
            return int(result[0])
        return _count(result)  # type: ignore[arg-type]

    def recvmsg(self, cage: CageView, views: list[memoryview], flags: int) -> RecvResult:
        if self.error:
            err, self.error = self.error, 0
            raise GuestError(err)
        if len(self.queue):
            return self._take(views, flags)
        return block(lambda: self._recv_again(views, flags), on_queue(cage, self.readq),
                     nonblocking=self.nonblocking(flags), look_first=True)

    def _take(self, views: list[memoryview], flags: int) -> Received:
        copied, full, dgram = self.queue.pop_into(views, peek=bool(flags & F.MSG_PEEK))
        n = full if flags & F.MSG_TRUNC else copied
        return n, dgram.sender, None, F.MSG_TRUNC if full > copied else 0

    def _recv_again(self, views: list[memoryview], flags: int) -> Received | None:
        if self.error:
            err, self.error = self.error, 0
            raise GuestError(err)
        return self._take(views, flags) if len(self.queue) else None

    def bytes_readable(self) -> int:
        return max(0, self.queue.next_size())

    # -- options, readiness, close --------------------------------------------------------------
    def set_option(self, level: int, name: int, value: bytes) -> None:
        if level == SOL_NETLINK or (level, name) in ((F.SOL_SOCKET, F.SO_RCVBUF),
                                                     (F.SOL_SOCKET, F.SO_SNDBUF)):  # fmt: skip
            self.options[(level, name)] = int_option(value)
            return
        raise GuestError(ENOPROTOOPT)

    def _rcvbuf(self) -> int:
        return self._buffer(F.SO_RCVBUF)

    def _buffer(self, name: int) -> int:
        value = self.options.get((F.SOL_SOCKET, name))
        if value is None:
            return sysctl.RMEM_DEFAULT if name == F.SO_RCVBUF else sysctl.WMEM_DEFAULT
        top = sysctl.RMEM_MAX if name == F.SO_RCVBUF else sysctl.WMEM_MAX
        return max(sysctl.SOCK_MIN_RCVBUF, min(value & 0xFFFFFFFF, top) * 2)

    def get_option(self, level: int, name: int, size: int) -> bytes:
        if level == F.SOL_SOCKET and name in (F.SO_RCVBUF, F.SO_SNDBUF):
            return struct.pack("<i", self._buffer(name))
        if level == SOL_NETLINK:
            return struct.pack("<i", self.options.get((level, name), 0))
        if level == F.SOL_SOCKET and name == F.SO_ERROR:
            err, self.error = self.error, 0
            return struct.pack("<i", err)
        raise GuestError(ENOPROTOOPT)

    def poll_mask(self) -> int:
        mask = F.POLLOUT | F.POLLWRNORM | (F.POLLERR if self.error else 0)
        if len(self.queue):
            mask |= F.POLLIN | F.POLLRDNORM
        return mask

    def watch(self, events: int, wake: Wake) -> Cancel:
        return self.readq.watchers.add(wake)

    def release(self) -> None:
        _PORTS.discard((self.world, self.port))
        self.queue.drain()
        self.readq.wake_all()


def _signed(port: int) -> int:
    return port - (1 << 32) if port >= 1 << 31 else port


async def _count(pending: Awaitable[Received]) -> int:
    return (await pending)[0]


def _host_dump(request: bytes) -> list[bytes]:
    """Run one dump request on a host NETLINK_ROUTE socket; its messages up to and including
    ``NLMSG_DONE`` (or an error)."""
    host = hostfds.make(
        lambda: socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK,
            NETLINK_ROUTE,
        ),
        socket.socket.fileno,
        socket.socket.close,
    )  # fmt: skip
    out: list[bytes] = []
    with host:
        host.send(request)
        while True:
            try:
                data = host.recv(1 << 16)
            except BlockingIOError:
                return out  # the kernel produced nothing more (should not happen in a dump)
            if not data:
                return out
            offset = 0
            while offset + _HDR.size <= len(data):
                length, kind = _HDR.unpack_from(data, offset)[:2]
                if length < _HDR.size or length > len(data) - offset:
                    break
                out.append(data[offset : offset + length])
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    return out
                offset += (length + 3) & ~3
