"""Host-reachable AF_UNIX listeners: a cage's named socket that host processes can connect to.

Theory of operation
-------------------
Off by default. An embedder opts in per microvisor root (``host_unix_sockets``: ``True`` for
every path name, or a collection of guest paths). When a cage binds an allowed path name with a
stream or seqpacket socket, ``unix_names`` makes the socket node by binding a real host
``AF_UNIX`` socket there instead of ``mknod`` (through ``/proc/self/fd/<confined parent>/<name>``,
so the name still resolves inside the root and a symlink in its place is ``EADDRINUSE``). The
node is the same file cages see: it is registered in the world as any bound name, so cage-to-cage
``connect`` keeps the in-process path and never touches the host socket.

``listen`` also listens on the host socket; the cage's listener answers ``accept``/poll from its
in-process backlog first, then from the host socket's (the kernel holds host connections until
the cage accepts them; nothing is accepted on the cage's behalf). A host connection becomes a
:class:`HostUnixStream`: the ``sock_inet`` machinery over the host fd (non-blocking, a cage that
waits suspends only itself), presented with the listener's name and an unnamed peer (no host path
reaches the cage).

Descriptors never cross: ``SCM_RIGHTS`` on a host connection is ``EPERM`` (the rights are
dropped), and anything a host peer sends as ancillary data is discarded by the kernel (the
receive has no control buffer; ``MSG_CTRUNC`` tells the program). A name too long to bind
through ``/proc/self/fd`` (``sun_path``'s 108 bytes) stays an in-world node. Closing the socket
leaves the node, as on Linux; ``unlink`` removes it.

Outbound (:class:`HostDial`): under the same opt-in, a cage's ``connect`` to a path name whose
node is a socket *no cage of its world bound* (a host process's, or another microvisor's) goes to
the host. The name is resolved confined to the root (``openat2(RESOLVE_IN_ROOT)``) to an
``O_PATH`` fd of the node, the policy is checked against the node's resolved guest path, and a
new non-blocking host socket connects to ``/proc/self/fd/<that fd>``: the kernel reaches exactly
the inode the confined lookup found, so no symlink or rename can lead the connect out of the
root. The cage's socket then forwards to that :class:`HostUnixStream` (``remote``). A name bound
by a cage of the same world keeps the in-process path; without the opt-in such a node is
``ECONNREFUSED``, as before. A full host backlog makes a blocking connect retry with a growing
pause (the kernel gives no readiness for it), ``EAGAIN`` for a non-blocking one.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Collection
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import EADDRINUSE, EAGAIN, ECONNREFUSED, EPERM, GuestError
from lind_async.core.fdtable import OpenFile
from lind_async.rawposix import hostfds
from lind_async.rawposix.blocking import Wait, block
from lind_async.rawposix.confine import lexical
from lind_async.rawposix.readiness import (
    Cancel,
    Wake,
    forget_host_fd,
    host_poll_mask,
    watch_host_fd,
)
from lind_async.rawposix.sock_addr import unix_sockaddr
from lind_async.rawposix.sock_base import AcceptResult, Received, drop_rights
from lind_async.rawposix.sock_inet import RECV_FLAGS, InetSocket

if TYPE_CHECKING:
    from lind_async.rawposix.files import SysResult
    from lind_async.rawposix.kernel import CageView

Policy = bool | frozenset[bytes]
_HOST_PATH_MAX = 107  # sun_path holds 108 bytes with the terminating NUL
_RETRY_FIRST, _RETRY_MAX = 0.005, 0.2  # pauses of a blocking connect to a full host backlog


def policy_of(setting: bool | Collection[str | bytes] | None) -> Policy:
    """The embedder's ``host_unix_sockets`` setting as a policy: all path names, none, or the
    set of guest paths (normalized) allowed."""
    if setting is None or setting is False:
        return False
    if setting is True:
        return True
    return frozenset(lexical(b"/" + os.fsencode(p).lstrip(b"/")) for p in setting)


def allowed(cage: CageView, guest_path: bytes, stype: int) -> bool:
    """May the socket ``guest_path`` (absolute, as bound) be reachable from the host?"""
    policy = cage.world.host_unix_sockets
    if policy is False or stype == F.SOCK_DGRAM:
        return False
    return policy is True or lexical(guest_path) in policy


def may_dial(cage: CageView, node_fd: int) -> bytes | None:
    """The guest path of the socket node ``node_fd`` if the embedder lets cages connect to a host
    socket there (the policy applies to where the name resolved, not to how it was spelt)."""
    policy = cage.world.host_unix_sockets
    if policy is False:
        return None
    where = cage.world.root.guest_path_of(node_fd)
    if where is None or (policy is not True and lexical(where) not in policy):
        return None
    return where


def bind_host(dir_fd: int, last: bytes, stype: int) -> socket.socket | None:
    """Bind a host socket at ``last`` in the (confined) directory ``dir_fd``; ``None`` when the
    host path would be too long (the caller makes an in-world node instead)."""
    path = b"/proc/self/fd/%d/%s" % (dir_fd, last)
    if len(path) > _HOST_PATH_MAX:
        return None
    host = hostfds.make(
        lambda: socket.socket(socket.AF_UNIX, stype | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC),
        socket.socket.fileno,
        socket.socket.close,
    )
    try:
        host.bind(path)
    except OSError as exc:
        host.close()
        if exc.errno == EADDRINUSE:
            raise GuestError(EADDRINUSE) from None
        raise
    return host


def set_mode(node_fd: int, mode: int) -> None:
    """The node's mode as the cage asked (bind made it with the host process's umask)."""
    os.chmod(f"/proc/self/fd/{node_fd}", mode)


class HostListener:
    """The host side of a cage's bound (then listening) socket."""

    __slots__ = ("fd", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()

    def listen(self, backlog: int) -> None:
        self.sock.listen(max(0, backlog))

    def accept_now(self, stype: int, name: bytes | None) -> AcceptResult | None:
        """A waiting host connection as the cage's accepted socket, or ``None``."""
        try:
            host = hostfds.make(
                lambda: self.sock.accept()[0], socket.socket.fileno, socket.socket.close
            )
        except BlockingIOError:
            return None
        host.setblocking(False)
        return HostUnixStream(host, stype, name), unix_sockaddr(None)

    def readable(self) -> bool:
        return bool(host_poll_mask(self.fd, F.POLLIN) & F.POLLIN)

    def watch(self, wake: Wake) -> Cancel:
        return watch_host_fd(self.fd, writable=False, wake=wake)

    def close(self) -> None:
        forget_host_fd(self.fd)
        self.sock.close()


class HostUnixStream(InetSocket):
    """A host connection of a cage's socket: accepted by a cage's listener from a host process,
    or made by a cage's ``connect`` to a host socket (see the module docstring)."""

    __slots__ = ("name", "peer")

    def __init__(
        self, sock: socket.socket, stype: int, name: bytes | None, peer: bytes | None = None
    ) -> None:
        super().__init__(sock, F.AF_UNIX, stype, 0, 0)
        self.name = name
        self.peer = peer  # the guest path a cage connected to (None: a host client, unnamed)

    def sockname(self) -> bytes:
        return unix_sockaddr(self.name)

    def peername(self) -> bytes:
        self.sock.getpeername()  # ENOTCONN once the connection is shut down
        return unix_sockaddr(self.peer)  # never a host path

    def _recvmsg_now(self, views: list[memoryview], flags: int) -> Received:
        n, _anc, msg_flags, _addr = self.sock.recvmsg_into(views, 0, flags & RECV_FLAGS)
        return n, None, None, msg_flags & (F.MSG_TRUNC | F.MSG_EOR | F.MSG_CTRUNC)

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
            raise GuestError(EPERM)  # no descriptor leaves the sandbox
        return super().sendmsg(cage, views, flags, None, None)

    def _levels(self) -> tuple[int, ...]:
        return (F.SOL_SOCKET,)


def _backoff(cage: CageView) -> Wait:
    """The :data:`~lind_async.rawposix.blocking.Wait` of a connect to a full host backlog: the
    kernel gives no readiness for it, so each wait is a pause, growing from ``_RETRY_FIRST`` to
    ``_RETRY_MAX`` (cut short by the deadline's ``left``)."""
    pause = _RETRY_FIRST

    async def wait(left: float | None) -> None:
        nonlocal pause
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(pause if left is None else min(pause, left), _settle, ready)
        try:
            await cage.block_on(ready)
        finally:
            timer.cancel()
        pause = min(pause * 2, _RETRY_MAX)

    return wait


def _settle(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


class HostDial:
    """A ``connect`` to a host socket at a node found in the root (see the module docstring).
    Owns ``node_fd`` (the node's ``O_PATH`` fd) until the connect ends."""

    __slots__ = ("node_fd", "peer")

    def __init__(self, node_fd: int, peer: bytes) -> None:
        self.node_fd = node_fd
        self.peer = peer

    def close(self) -> None:
        if self.node_fd >= 0:
            os.close(self.node_fd)
            self.node_fd = -1

    def connect(
        self,
        cage: CageView,
        stype: int,
        name: bytes | None,
        nonblocking: bool,
        timeout: float | None,
    ) -> HostUnixStream | Awaitable[HostUnixStream]:
        try:
            got = self._attempt(stype, name)
            if got is None and nonblocking:
                raise GuestError(EAGAIN)
        except BaseException:
            self.close()
            raise
        if got is not None:
            self.close()
            return got
        return self._connect_later(cage, stype, name, timeout)

    async def _connect_later(
        self, cage: CageView, stype: int, name: bytes | None, timeout: float | None
    ) -> HostUnixStream:
        try:  # SO_SNDTIMEO passed: EAGAIN, as Linux says
            return await block(lambda: self._attempt(stype, name), _backoff(cage), timeout=timeout)
        finally:
            self.close()

    def _attempt(self, stype: int, name: bytes | None) -> HostUnixStream | None:
        """One non-blocking host connect: the connection, or ``None`` if the backlog is full."""
        if self.node_fd < 0:
            raise GuestError(ECONNREFUSED)
        host = hostfds.make(
            lambda: socket.socket(
                socket.AF_UNIX, stype | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
            ),
            socket.socket.fileno,
            socket.socket.close,
        )
        try:
            host.connect(b"/proc/self/fd/%d" % self.node_fd)
        except BlockingIOError:
            host.close()
            return None
        except OSError as exc:
            host.close()
            raise GuestError(exc.errno or ECONNREFUSED) from None
        return HostUnixStream(host, stype, name, self.peer)
