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
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi.errno import EADDRINUSE, EPERM, GuestError
from lind_async.core.fdtable import OpenFile
from lind_async.rawposix import hostfds
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
    """A connection from a host process to a cage's listener (see the module docstring)."""

    __slots__ = ("name",)

    def __init__(self, sock: socket.socket, stype: int, name: bytes | None) -> None:
        super().__init__(sock, F.AF_UNIX, stype, 0, 0)
        self.name = name

    def sockname(self) -> bytes:
        return unix_sockaddr(self.name)

    def peername(self) -> bytes:
        self.sock.getpeername()  # ENOTCONN once the connection is shut down
        return unix_sockaddr(None)  # the host side: unnamed, no host path reaches the cage

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
