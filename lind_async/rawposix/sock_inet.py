"""AF_INET/AF_INET6 sockets: real host sockets, non-blocking, waited on through loop readiness.

Theory of operation
-------------------
The host socket is always ``O_NONBLOCK | O_CLOEXEC``; the guest's blocking mode lives in the
description's status flags. An operation first tries the host call; if it completes (the hot
path) the result returns inline, with no coroutine. If the host says would-block and the guest
socket blocks, the cage waits for readiness of the host fd (``blocking.block``: ``wait_fd``, or
under an ``SO_RCVTIMEO``/``SO_SNDTIMEO`` a deadline and ``wait_ready``) and tries again; a signal
ends the wait with ``EINTR`` (after a partial transfer, with the count so far: those loops are
hand-written).

- ``connect`` on a blocking socket: host connect → ``EINPROGRESS`` → wait writable → ``SO_ERROR``.
  An interrupted connect goes on in the background (a retry sees ``EALREADY`` and waits again).
- ``send`` always passes ``MSG_NOSIGNAL`` to the host; ``EPIPE`` posts ``SIGPIPE`` to the cage
  unless the guest asked for ``MSG_NOSIGNAL``.
- Addresses are the guest's raw bytes for bind/connect/accept/getsockname (the guest layout is the
  host's), via libc through ctypes, so Linux validates them itself.
- Options: only a known list reaches the host (some options carry host pointers, e.g. socket
  filters); ``SO_LINGER`` with a timeout is recorded, never set, because a lingering ``close``
  would block the event loop.
- Each socket holds one host fd, made through ``rawposix/hostfds.py`` (``ENFILE`` when only the
  microvisor's reserve is left; an accepted connection refused that way is closed).
"""

from __future__ import annotations

import ctypes
import os
import socket
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from lind_async.abi import flags as F
from lind_async.abi.errno import (
    EAGAIN,
    EALREADY,
    EINPROGRESS,
    EINVAL,
    EOPNOTSUPP,
    EPIPE,
    GuestError,
)
from lind_async.core.fdtable import OpenFile
from lind_async.rawposix import hostfds
from lind_async.rawposix.blocking import Wait, block, wait_fd
from lind_async.rawposix.readiness import (
    Cancel,
    Wake,
    forget_host_fd,
    host_poll_mask,
    wait_ready,
    watch_host_events,
)
from lind_async.rawposix.sock_addr import SOCKADDR_MAX, inet_address, inet_sockaddr
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

if TYPE_CHECKING:
    from lind_async.rawposix.files import SysResult
    from lind_async.rawposix.kernel import CageView

_libc = ctypes.CDLL(None, use_errno=True)
_c_bind = _libc.bind
_c_connect = _libc.connect
_c_accept4 = _libc.accept4
_c_getsockname = _libc.getsockname
_c_getpeername = _libc.getpeername
for _fn in (_c_bind, _c_connect):
    _fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
    _fn.restype = ctypes.c_int
for _fn in (_c_accept4,):
    _fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint32), ctypes.c_int)
    _fn.restype = ctypes.c_int
for _fn in (_c_getsockname, _c_getpeername):
    _fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint32))
    _fn.restype = ctypes.c_int

SEND_FLAGS = F.MSG_OOB | F.MSG_DONTROUTE | F.MSG_DONTWAIT | F.MSG_EOR | F.MSG_MORE
RECV_FLAGS = F.MSG_OOB | F.MSG_PEEK | F.MSG_TRUNC | F.MSG_DONTWAIT
# Plain ints: or-ing a guest int with the socket module's IntFlag goes through enum (~0.8 us).
_NOSIGNAL = int(socket.MSG_NOSIGNAL)
_ACCEPT_FLAGS = int(socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)

# Options passed to the host as they are: (level, name). Everything else is ENOPROTOOPT.
HOST_OPTIONS = frozenset(
    [(F.SOL_SOCKET, o) for o in (
        F.SO_REUSEADDR, F.SO_ERROR, F.SO_DONTROUTE, F.SO_BROADCAST, F.SO_SNDBUF, F.SO_RCVBUF,
        F.SO_KEEPALIVE, F.SO_OOBINLINE, F.SO_PRIORITY, F.SO_REUSEPORT, F.SO_RCVLOWAT,
        F.SO_ACCEPTCONN, F.SO_PASSCRED, F.SO_PEERCRED,
    )]
    + [(F.IPPROTO_TCP, o) for o in (
        F.TCP_NODELAY, F.TCP_MAXSEG, F.TCP_CORK, F.TCP_KEEPIDLE, F.TCP_KEEPINTVL, F.TCP_KEEPCNT,
        F.TCP_DEFER_ACCEPT, F.TCP_QUICKACK, F.TCP_USER_TIMEOUT,
    )]
    + [(F.IPPROTO_IP, o) for o in (F.IP_TOS, F.IP_TTL, F.IP_MULTICAST_TTL, F.IP_MULTICAST_LOOP)]
    + [(F.IPPROTO_IPV6, o) for o in (
        F.IPV6_V6ONLY, F.IPV6_UNICAST_HOPS, F.IPV6_MULTICAST_HOPS, F.IPV6_MULTICAST_LOOP,
    )]
)  # fmt: skip


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def new_inet_socket(family: int, stype: int, protocol: int, status_flags: int) -> InetSocket:
    host = hostfds.make(
        lambda: socket.socket(family, stype | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, protocol),
        socket.socket.fileno,
        socket.socket.close,
    )
    proto = host.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    return InetSocket(host, family, stype, proto, status_flags)


class InetSocket(Socket):
    """A host AF_INET/AF_INET6 socket (see the module docstring)."""

    __slots__ = ("fd", "linger", "sock")
    level_watch = True

    def __init__(
        self, sock: socket.socket, family: int, stype: int, protocol: int, status_flags: int
    ) -> None:
        super().__init__(family, stype, protocol, status_flags)
        self.sock = sock
        self.fd = sock.fileno()
        self.linger = (0, 0)  # the guest's SO_LINGER when it asked for a lingering close

    # -- connection ---------------------------------------------------------------------------
    def bind(self, cage: CageView, raw: bytes) -> None:
        _check(_c_bind(self.fd, raw, len(raw)))

    def listen(self, backlog: int) -> None:
        self.sock.listen(max(0, backlog))

    def accept(self, cage: CageView) -> AcceptResult | Awaitable[AcceptResult]:
        try:
            return self._accept_now()
        except BlockingIOError:
            pass
        return block(self._accept_now, self._waiter(cage, F.POLLIN),
                     nonblocking=self.nonblocking(), timeout=self.rcvtimeo)

    def _accept_now(self) -> AcceptResult:
        buf = ctypes.create_string_buffer(SOCKADDR_MAX)
        size = ctypes.c_uint32(SOCKADDR_MAX)
        flags = _ACCEPT_FLAGS
        # (a connection refused for want of host fds is taken off the queue and closed)
        fd = hostfds.open_fd(lambda: _check(_c_accept4(self.fd, buf, ctypes.byref(size), flags)))
        host = socket.socket(fileno=fd)
        host.setblocking(False)
        peer = InetSocket(host, self.family, self.stype, self.protocol, 0)
        return peer, buf.raw[: min(size.value, SOCKADDR_MAX)]

    def connect(self, cage: CageView, raw: bytes) -> SysResult:
        if _c_connect(self.fd, raw, len(raw)) == 0:
            return 0
        err = ctypes.get_errno()
        if err not in (EINPROGRESS, EALREADY) or self.nonblocking():
            raise GuestError(err)
        # SO_SNDTIMEO passed: Linux says EINPROGRESS
        return block(lambda: self._connect_again(raw), self._waiter(cage, F.POLLOUT),
                     timeout=self.sndtimeo, expired=EINPROGRESS)

    def _connect_again(self, raw: bytes) -> int | None:
        # Once the host socket is writable, connect() again: the kernel then reports the outcome
        # (0, or the pending error) and leaves the socket in the state a blocking connect would.
        if _c_connect(self.fd, raw, len(raw)) == 0:
            return 0
        err = ctypes.get_errno()
        if err not in (EINPROGRESS, EALREADY):
            raise GuestError(err)
        return None

    def sockname(self) -> bytes:
        return self._name(_c_getsockname)

    def peername(self) -> bytes:
        return self._name(_c_getpeername)

    def _name(self, call: Any) -> bytes:
        buf = ctypes.create_string_buffer(SOCKADDR_MAX)
        size = ctypes.c_uint32(SOCKADDR_MAX)
        _check(call(self.fd, buf, ctypes.byref(size)))
        return buf.raw[: min(size.value, SOCKADDR_MAX)]

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)

    # -- data ---------------------------------------------------------------------------------
    def recv_into(self, cage: CageView, view: memoryview, flags: int) -> SysResult:
        try:
            n = self.sock.recv_into(view, len(view), flags & RECV_FLAGS)
        except BlockingIOError:
            if self.nonblocking(flags):
                raise GuestError(EAGAIN) from None
            return self._recv_later(cage, view, flags, 0)
        if flags & F.MSG_WAITALL and 0 < n < len(view) and not self.nonblocking(flags):
            return self._recv_later(cage, view, flags, n)
        return n

    async def _recv_later(self, cage: CageView, view: memoryview, flags: int, done: int) -> int:
        # Not blocking.block: MSG_WAITALL makes partial progress, and an interruption or timeout
        # after some bytes arrived returns the count so far.
        deadline = 0.0
        host_flags = flags & RECV_FLAGS
        while True:
            try:
                if self.rcvtimeo is None:  # (the common case, one coroutine frame less)
                    await wait_fd(self.fd, writable=False, cage=cage)
                else:
                    deadline = await self.wait(cage, F.POLLIN, self.rcvtimeo, deadline)
            except GuestError:
                if done:
                    return done
                raise
            try:
                n = self.sock.recv_into(view[done:], len(view) - done, host_flags)
            except BlockingIOError:
                continue
            done += n
            if n == 0 or not flags & F.MSG_WAITALL or done == len(view):
                return done

    def send_from(self, cage: CageView, view: memoryview, flags: int) -> SysResult:
        host_flags = (flags & SEND_FLAGS) | _NOSIGNAL
        try:
            n = self.sock.send(view, host_flags)
        except BlockingIOError:
            n = 0
            if self.nonblocking(flags):
                raise GuestError(EAGAIN) from None
        except BrokenPipeError:
            return self._broken(cage, flags)
        if n == len(view) or self.nonblocking(flags):
            return n
        return self._send_later(cage, view, flags, n)

    async def _send_later(self, cage: CageView, view: memoryview, flags: int, done: int) -> int:
        # Not blocking.block: a send makes partial progress (see _recv_later).
        deadline = 0.0
        host_flags = (flags & SEND_FLAGS) | _NOSIGNAL
        while done < len(view):
            try:
                if self.sndtimeo is None:
                    await wait_fd(self.fd, writable=True, cage=cage)
                else:
                    deadline = await self.wait(cage, F.POLLOUT, self.sndtimeo, deadline)
            except GuestError:
                if done:
                    return done
                raise
            try:
                done += self.sock.send(view[done:], host_flags)
            except BlockingIOError:
                continue
            except BrokenPipeError:
                if done:
                    return done
                return self._broken(cage, flags)
        return done

    def _broken(self, cage: CageView, flags: int) -> int:
        if not flags & F.MSG_NOSIGNAL:
            cage.post_signal(SIGPIPE)
        raise GuestError(EPIPE)

    def recvmsg(self, cage: CageView, views: list[memoryview], flags: int) -> RecvResult:
        try:
            return self._recvmsg_now(views, flags)
        except BlockingIOError:
            pass
        return block(lambda: self._recvmsg_now(views, flags), self._waiter(cage, F.POLLIN),
                     nonblocking=self.nonblocking(flags), timeout=self.rcvtimeo)

    def _recvmsg_now(self, views: list[memoryview], flags: int) -> Received:
        n, _anc, msg_flags, address = self.sock.recvmsg_into(views, 0, flags & RECV_FLAGS)
        raw = inet_sockaddr(address) if address is not None else None
        return n, raw, None, msg_flags & (F.MSG_TRUNC | F.MSG_EOR | F.MSG_OOB)

    def sendmsg(
        self,
        cage: CageView,
        views: list[memoryview],
        flags: int,
        address: bytes | None,
        rights: list[OpenFile] | None,
    ) -> SysResult:
        if rights:
            drop_rights(rights)
            raise GuestError(EINVAL)
        target = inet_address(address, self.family) if address else None
        if target is None and len(views) == 1:
            return self.send_from(cage, views[0], flags)
        try:
            return self._sendmsg_now(views, flags, target)
        except BlockingIOError:
            pass
        except BrokenPipeError:
            return self._broken(cage, flags)
        return block(lambda: self._sendmsg_again(cage, views, flags, target),
                     self._waiter(cage, F.POLLOUT), nonblocking=self.nonblocking(flags),
                     timeout=self.sndtimeo)

    def _sendmsg_now(self, views: list[memoryview], flags: int, target: Any) -> int:
        host_flags = (flags & SEND_FLAGS) | _NOSIGNAL
        if target is None:
            return self.sock.sendmsg(views, (), host_flags)
        return self.sock.sendmsg(views, (), host_flags, target)

    def _sendmsg_again(
        self, cage: CageView, views: list[memoryview], flags: int, target: Any
    ) -> int:
        try:
            return self._sendmsg_now(views, flags, target)
        except BrokenPipeError:
            return self._broken(cage, flags)

    def bytes_readable(self) -> int:
        import fcntl
        import termios

        buf = bytearray(4)
        fcntl.ioctl(self.fd, termios.FIONREAD, buf)
        return int.from_bytes(buf, "little", signed=True)

    # -- options ------------------------------------------------------------------------------
    def set_option(self, level: int, name: int, value: bytes) -> None:
        if (level, name) == (F.SOL_SOCKET, F.SO_LINGER):
            if len(value) < 8:
                raise GuestError(EINVAL)
            onoff, seconds = int_option(value), int_option(value[4:])
            if onoff and seconds > 0:
                self.linger = (1, seconds)  # recorded only: a lingering close would block
                return
            self.linger = (0, 0)
        elif (level, name) not in HOST_OPTIONS:
            Socket.set_option(self, level, name, value)
        self.sock.setsockopt(level, name, value)

    def get_option(self, level: int, name: int, size: int) -> bytes:
        if (level, name) == (F.SOL_SOCKET, F.SO_LINGER) and self.linger[0]:
            return pack_int(self.linger[0]) + pack_int(self.linger[1])
        if (level, name) not in HOST_OPTIONS and (level, name) != (F.SOL_SOCKET, F.SO_LINGER):
            # Linux: an unknown option of a level the socket's stack handles is ENOPROTOOPT,
            # any other level EOPNOTSUPP (setsockopt says ENOPROTOOPT for both)
            if level not in self._levels():
                raise GuestError(EOPNOTSUPP)
            return Socket.get_option(self, level, name, size)
        return self.sock.getsockopt(level, name, max(4, min(size, 256)))

    def _levels(self) -> tuple[int, ...]:
        ip = (F.IPPROTO_IP, F.IPPROTO_IPV6) if self.family == F.AF_INET6 else (F.IPPROTO_IP,)
        return (F.SOL_SOCKET, self.protocol, *ip)

    # -- readiness and the rest ---------------------------------------------------------------
    def _waiter(self, cage: CageView, events: int) -> Wait:
        """The host fd's readiness; with a deadline, as ``Socket.wait`` (``wait_ready``)."""

        def wait(left: float | None) -> Awaitable[None]:
            if left is None:
                return wait_fd(self.fd, writable=events == F.POLLOUT, cage=cage)
            return wait_ready(cage, [(self, events)], left)

        return wait

    def poll_mask(self) -> int:
        return host_poll_mask(self.fd)

    def watch(self, events: int, wake: Wake) -> Cancel:
        return watch_host_events(self.fd, events, wake)

    def stat(self) -> os.stat_result:
        return os.fstat(self.fd)

    def release(self) -> None:
        forget_host_fd(self.fd)
        self.sock.close()
