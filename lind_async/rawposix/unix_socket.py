"""AF_UNIX sockets, fully in-process: no host socket, any open file can travel with SCM_RIGHTS.

Theory of operation
-------------------
*Names.* Binding a path creates a placeholder socket node inside the root (``mknod S_IFSOCK``,
through the confined parent directory), so ``stat``, ``unlink`` and ``EADDRINUSE`` behave as on
Linux. The bound socket is registered under the node's host ``(st_dev, st_ino)`` and keeps an
``O_PATH`` fd on the node for its life (so the inode number cannot be reused meanwhile).
``connect``/``sendto`` resolve the guest path confined to the root, check it is a socket node and
look it up (a node nobody listens on: ``ECONNREFUSED``). Abstract names (``sun_path[0] == 0``)
are registered by their bytes; an empty address autobinds an abstract name, as Linux does.

*Worlds.* Every registry key starts with the cage's *world* — its runtime microvisor, i.e. one
root of one microvisor, the unit that already bounds pids and signals. Abstract names therefore
form one namespace per world (a cage can neither bind over nor connect to another world's name),
and a path socket is found only by cages of the world that bound it, even when two roots overlap
and both see the node (as two separate microvisor processes never see each other's in-process
sockets). So no socket, and no ``SCM_RIGHTS`` descriptor, crosses from one world to another.

*Streams.* Each socket receives into its own :class:`StreamBuffer`; a send writes into the
peer's. ``connect`` to a listener makes the server-side end at once and queues it for
``accept`` (``EAGAIN``/wait when the backlog is full). Closing an end shuts the survivor both
ways: it reads what is left then end-of-file (``ECONNRESET`` if the closed end had unread data)
and its writes fail with ``EPIPE`` (plus ``SIGPIPE`` unless ``MSG_NOSIGNAL``).

*Datagrams.* Each socket receives into a :class:`DatagramQueue` of whole messages with the
sender's address; a full queue makes the sender wait (or ``EAGAIN``).

*Rights.* ``SCM_RIGHTS`` carry :class:`OpenFile` references, each holding one in-flight
reference until the receiver installs it (``sockets.py``) or the message is discarded.

*Waiting.* Two wait queues per socket: ``readq`` (data, end-of-file, a connection to accept or a
state change arrived) and ``roomq`` (its receive buffer gained room, or it closed), which is what
the peer's writers wait on. Their watchers feed poll/epoll.
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
    EADDRINUSE,
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
    EPROTOTYPE,
    GuestError,
)
from lind_async.core.fdtable import OpenFile
from lind_async.core.sockbuf import DEFAULT_CAPACITY, Datagram, DatagramQueue, StreamBuffer
from lind_async.rawposix import hostfds
from lind_async.rawposix.blocking import WaitQueue
from lind_async.rawposix.confine import guest_join
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

if TYPE_CHECKING:
    from lind_async.rawposix.files import SysResult
    from lind_async.runtime.cage import Cage

NEW, LISTENING, CONNECTED = 0, 1, 2
MAX_BACKLOG = 4096
_SOCK_DEVICE = 0x5CE7  # a pseudo device number for in-process socket inodes
_inodes = itertools.count(1)
_autobind = itertools.count(1)
_REGISTRY: dict[tuple[object, ...], UnixSocket] = {}  # (world, abstract name | dev, ino)
_STORED_OPTIONS = (F.SO_REUSEADDR, F.SO_KEEPALIVE, F.SO_PASSCRED, F.SO_BROADCAST, F.SO_REUSEPORT,
                   F.SO_OOBINLINE, F.SO_PRIORITY, F.SO_RCVLOWAT, F.SO_DONTROUTE)  # fmt: skip


def credentials(cage: Cage) -> tuple[int, int, int]:
    return cage.cage_id, os.getuid(), os.getgid()


class UnixSocket(Socket):
    """An in-process AF_UNIX socket (see the module docstring)."""

    __slots__ = (
        "backlog", "closed", "cred", "dgrams", "error", "inode", "key", "max_backlog", "name",
        "node_fd", "options", "peer", "peer_cred", "rd_shut", "readq", "roomq", "state", "stream",
        "wr_shut",
    )  # fmt: skip

    def __init__(self, stype: int, status_flags: int, cred: tuple[int, int, int]) -> None:
        super().__init__(F.AF_UNIX, stype, 0, status_flags)
        self.state = NEW
        self.peer: UnixSocket | None = None
        self.name: bytes | None = None
        self.key: tuple[object, ...] | None = None
        self.node_fd = -1
        self.backlog: deque[UnixSocket] = deque()
        self.max_backlog = 0
        self.stream = StreamBuffer() if stype == F.SOCK_STREAM else None
        self.dgrams = DatagramQueue() if stype == F.SOCK_DGRAM else None
        self.readq = WaitQueue()
        self.roomq = WaitQueue()
        self.rd_shut = False
        self.wr_shut = False
        self.closed = False
        self.error = 0
        self.cred = cred
        self.peer_cred: tuple[int, int, int] = (0, -1 & 0xFFFFFFFF, -1 & 0xFFFFFFFF)
        self.options = {F.SO_RCVBUF: DEFAULT_CAPACITY, F.SO_SNDBUF: DEFAULT_CAPACITY}
        self.inode = next(_inodes)

    # -- names --------------------------------------------------------------------------------
    def bind(self, cage: Cage, raw: bytes) -> None:
        name = unix_name(raw)
        if self.name is not None:
            raise GuestError(EINVAL)
        if name is None:
            name = b"\0" + b"%05x" % next(_autobind)
        if name[0] == 0:
            key: tuple[object, ...] = (world_of(cage), name)
            if key in _REGISTRY:
                raise GuestError(EADDRINUSE)
            self.key = key
        else:
            self.node_fd, self.key = _make_node(cage, name)
        self.name = name
        _REGISTRY[self.key] = self

    def sockname(self) -> bytes:
        return unix_sockaddr(self.name)

    def peername(self) -> bytes:
        if self.peer is None or (self.stream is not None and self.state != CONNECTED):
            raise GuestError(ENOTCONN)
        return unix_sockaddr(self.peer.name)

    # -- connections ----------------------------------------------------------------------------
    def listen(self, backlog: int) -> None:
        if self.stream is None:
            raise GuestError(EOPNOTSUPP)
        if self.state == CONNECTED or self.name is None:
            raise GuestError(EINVAL)
        self.state = LISTENING
        self.max_backlog = min(max(backlog, 0), MAX_BACKLOG)
        self.readq.wake_all()

    def connect(self, cage: Cage, raw: bytes) -> SysResult:
        if self.dgrams is not None:
            if len(raw) >= 2 and family_of(raw) == F.AF_UNSPEC:
                self.peer = None
                return 0
            target = _lookup(cage, raw, self.stype)
            self.peer = target
            self.peer_cred = target.cred
            return 0
        if self.state == CONNECTED:
            raise GuestError(EISCONN)
        if self.state == LISTENING:
            raise GuestError(EINVAL)
        listener = _lookup(cage, raw, self.stype)
        if listener.state != LISTENING:
            raise GuestError(ECONNREFUSED)
        if len(listener.backlog) <= listener.max_backlog:
            self._link(listener, cage)
            return 0
        if self.nonblocking():
            raise GuestError(EAGAIN)
        return self._connect_later(cage, listener)

    async def _connect_later(self, cage: Cage, listener: UnixSocket) -> int:
        deadline = 0.0
        while True:
            deadline = await _wait_on(cage, [listener.roomq], self.sndtimeo, deadline)
            if self.state == CONNECTED:
                raise GuestError(EISCONN)
            if listener.closed or listener.state != LISTENING:
                raise GuestError(ECONNREFUSED)
            if len(listener.backlog) <= listener.max_backlog:
                self._link(listener, cage)
                return 0

    def _link(self, listener: UnixSocket, cage: Cage) -> None:
        server = UnixSocket(self.stype, 0, listener.cred)
        server.name = listener.name
        server.state = CONNECTED
        server.peer = self
        server.peer_cred = credentials(cage)
        self.state = CONNECTED
        self.peer = server
        self.peer_cred = listener.cred
        listener.backlog.append(server)
        listener.readq.wake_all()
        self.readq.wake_all()

    def accept(self, cage: Cage) -> AcceptResult | Awaitable[AcceptResult]:
        if self.stream is None:
            raise GuestError(EOPNOTSUPP)
        if self.state != LISTENING:
            raise GuestError(EINVAL)
        if self.backlog:
            return self._accept_now()
        if self.nonblocking():
            raise GuestError(EAGAIN)
        return self._accept_later(cage)

    def _accept_now(self) -> AcceptResult:
        server = self.backlog.popleft()
        self.roomq.wake_all()
        client = server.peer
        return server, unix_sockaddr(client.name if client is not None else None)

    async def _accept_later(self, cage: Cage) -> AcceptResult:
        deadline = 0.0
        while True:
            deadline = await _wait_on(cage, [self.readq], self.rcvtimeo, deadline)
            if self.state != LISTENING:
                raise GuestError(EINVAL)
            if self.backlog:
                return self._accept_now()

    def shutdown(self, how: int) -> None:
        if how not in (F.SHUT_RD, F.SHUT_WR, F.SHUT_RDWR):
            raise GuestError(EINVAL)
        rd, wr = how != F.SHUT_WR, how != F.SHUT_RD
        self.rd_shut |= rd
        self.wr_shut |= wr
        self._wake()
        peer = self.peer
        if self.stream is not None and peer is not None and self.state == CONNECTED:
            peer.wr_shut |= rd
            peer.rd_shut |= wr
            peer._wake()

    def _wake(self) -> None:
        self.readq.wake_all()
        self.roomq.wake_all()

    # -- sending --------------------------------------------------------------------------------
    def send_from(self, cage: Cage, view: memoryview, flags: int) -> SysResult:
        return self.sendmsg(cage, [view], flags, None, None)

    def sendmsg(
        self,
        cage: Cage,
        views: list[memoryview],
        flags: int,
        address: bytes | None,
        rights: list[OpenFile] | None,
    ) -> SysResult:
        box: list[list[OpenFile] | None] = [rights or None]
        try:
            if self.stream is not None:
                result = self._stream_send(cage, _Pending(views), flags, box)
            else:
                data = bytes(views[0]) if len(views) == 1 else b"".join(views)
                result = self._dgram_send(cage, data, flags, address, box)
        except BaseException:
            drop_rights(box[0])
            raise
        if result.__class__ is int:
            drop_rights(box[0])
            return result
        return _guard_rights(result, box)  # type: ignore[arg-type]

    def _stream_send(
        self, cage: Cage, data: _Pending, flags: int, box: list[list[OpenFile] | None]
    ) -> SysResult:
        peer = self._stream_peer(cage, flags)
        if not data.size:
            return 0
        n = _write_some(peer, data, 0, box)
        if n == data.size or self.nonblocking(flags):
            if n:
                return n
            raise GuestError(EAGAIN)
        return self._stream_send_later(cage, data, flags, n, box)

    def _stream_peer(self, cage: Cage, flags: int) -> UnixSocket:
        if self.state != CONNECTED:
            raise GuestError(ENOTCONN)
        peer = self.peer
        if self.wr_shut or peer is None or peer.closed:
            if not flags & F.MSG_NOSIGNAL:
                cage.post_signal(SIGPIPE)
            raise GuestError(EPIPE)
        return peer

    async def _stream_send_later(
        self, cage: Cage, data: _Pending, flags: int, done: int, box: list[list[OpenFile] | None]
    ) -> int:
        deadline = 0.0
        while done < data.size:
            peer = self.peer
            queues = [self.readq] if peer is None else [self.readq, peer.roomq]
            try:
                deadline = await _wait_on(cage, queues, self.sndtimeo, deadline)
                peer = self._stream_peer(cage, flags if not done else flags | F.MSG_NOSIGNAL)
            except GuestError:
                if done:
                    return done
                raise
            done += _write_some(peer, data, done, box)
        return done

    def _dgram_send(
        self,
        cage: Cage,
        data: bytes,
        flags: int,
        address: bytes | None,
        box: list[list[OpenFile] | None],
    ) -> SysResult:
        if address:
            target = _lookup(cage, address, self.stype)
        else:
            if self.peer is None:
                raise GuestError(ENOTCONN)
            target = self.peer
        if self.wr_shut:
            if not flags & F.MSG_NOSIGNAL:
                cage.post_signal(SIGPIPE)
            raise GuestError(EPIPE)
        if len(data) > self.options[F.SO_SNDBUF] - 32:
            raise GuestError(EMSGSIZE)
        if self._deliver(target, data, box):
            return len(data)
        if self.nonblocking(flags):
            raise GuestError(EAGAIN)
        return self._dgram_send_later(cage, target, data, box)

    def _deliver(self, target: UnixSocket, data: bytes, box: list[list[OpenFile] | None]) -> bool:
        if target.closed:
            raise GuestError(ECONNREFUSED)
        if target.peer is not None and target.peer is not self:
            raise GuestError(EPERM)
        assert target.dgrams is not None
        if not target.dgrams.push(Datagram(data, unix_sockaddr(self.name), box[0])):
            return False
        box[0] = None
        target.readq.wake_all()
        return True

    async def _dgram_send_later(
        self, cage: Cage, target: UnixSocket, data: bytes, box: list[list[OpenFile] | None]
    ) -> int:
        deadline = 0.0
        while True:
            deadline = await _wait_on(cage, [target.roomq], self.sndtimeo, deadline)
            if self._deliver(target, data, box):
                return len(data)

    # -- receiving ------------------------------------------------------------------------------
    def recv_into(self, cage: Cage, view: memoryview, flags: int) -> SysResult:
        result = self.recvmsg(cage, [view], flags)
        if result.__class__ is tuple:
            n, _addr, rights, _flags = result
            drop_rights(rights)  # read(2) discards rights
            return int(n)
        return _count_only(result)  # type: ignore[arg-type]

    def recvmsg(self, cage: Cage, views: list[memoryview], flags: int) -> RecvResult:
        if self.state == LISTENING:
            raise GuestError(EINVAL)
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
                if not peek:
                    self.roomq.wake_all()
                return n, None, rights, 0
            if self.error:
                err, self.error = self.error, 0
                raise GuestError(err)
            if self.rd_shut or not any(len(v) for v in views):
                return 0, None, None, 0
            return None
        assert self.dgrams is not None
        if len(self.dgrams):
            copied, full, dgram = self.dgrams.pop_into(views, peek=peek)
            if not peek:
                self.roomq.wake_all()
            msg_flags = F.MSG_TRUNC if full > copied else 0
            n = full if flags & F.MSG_TRUNC else copied
            return n, dgram.sender, None if peek else dgram.rights, msg_flags
        if self.rd_shut:
            return 0, None, None, 0
        return None

    async def _recv_later(
        self, cage: Cage, views: list[memoryview], flags: int, done: int
    ) -> Received:
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
        if self.stream is not None:
            return len(self.stream)
        assert self.dgrams is not None
        return max(0, self.dgrams.next_size())

    # -- options --------------------------------------------------------------------------------
    def set_option(self, level: int, name: int, value: bytes) -> None:
        if level != F.SOL_SOCKET:
            raise GuestError(EOPNOTSUPP)
        if name in (F.SO_RCVBUF, F.SO_SNDBUF):
            least = 2304 if name == F.SO_RCVBUF else 4608
            self.options[name] = max(least, min(int_option(value), DEFAULT_CAPACITY) * 2)
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
        if name in (F.SO_RCVBUF, F.SO_SNDBUF) or name in _STORED_OPTIONS:
            return pack_int(self.options.get(name, 0))
        raise GuestError(ENOPROTOOPT)

    # -- readiness, stat, close -----------------------------------------------------------------
    def poll_mask(self) -> int:
        mask = F.POLLERR if self.error else 0
        if self.state == LISTENING:
            return mask | (F.POLLIN | F.POLLRDNORM if self.backlog else 0)
        if self.rd_shut:
            mask |= F.POLLIN | F.POLLRDNORM | F.POLLRDHUP
        if self.rd_shut and self.wr_shut:
            mask |= F.POLLHUP
        peer = self.peer
        if self.stream is not None:
            if len(self.stream):
                mask |= F.POLLIN | F.POLLRDNORM
            if self.state != CONNECTED:
                mask |= F.POLLHUP
            writable = (
                peer is None or peer.closed or self.wr_shut
                or (peer.stream is not None and peer.stream.room > 0)
            )  # fmt: skip
        else:
            assert self.dgrams is not None
            if len(self.dgrams):
                mask |= F.POLLIN | F.POLLRDNORM
            writable = (
                peer is None or peer.closed
                or (peer.dgrams is not None and peer.dgrams.fits(1))
            )  # fmt: skip
        if writable:
            mask |= F.POLLOUT | F.POLLWRNORM
        return mask

    def watch(self, events: int, wake: Wake) -> Cancel:
        cancel_read = self.readq.watchers.add(wake)
        peer = self.peer
        if not events & F.POLLOUT or peer is None or peer.closed:
            return cancel_read
        cancel_room = peer.roomq.watchers.add(wake)

        def cancel() -> None:
            cancel_read()
            cancel_room()

        return cancel

    def stat(self) -> os.stat_result:
        mode = stat_mod.S_IFSOCK | 0o777
        return os.stat_result(
            (mode, self.inode, _SOCK_DEVICE, 1, os.getuid(), os.getgid(), 0, 0, 0, 0),
            {"st_blksize": 4096},
        )

    def release(self) -> None:
        self.closed = True
        if self.key is not None and _REGISTRY.get(self.key) is self:
            del _REGISTRY[self.key]
        if self.node_fd >= 0:
            os.close(self.node_fd)
            self.node_fd = -1
        unread = False
        lost: list[object] = []
        if self.stream is not None:
            unread = len(self.stream) > 0
            lost = self.stream.drain()
        elif self.dgrams is not None:
            lost = self.dgrams.drain()
        pending, self.backlog = self.backlog, deque()
        peer = self.peer
        if self.stream is not None and peer is not None and self.state == CONNECTED:
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


def new_pair(stype: int, status_flags: int, cage: Cage) -> tuple[UnixSocket, UnixSocket]:
    """``socketpair``: two connected sockets."""
    cred = credentials(cage)
    a = UnixSocket(stype, status_flags, cred)
    b = UnixSocket(stype, status_flags, cred)
    a.peer, b.peer = b, a
    a.peer_cred = b.peer_cred = cred
    a.state = b.state = CONNECTED
    return a, b


def world_of(cage: Cage) -> object:
    """The world a cage belongs to (one root of one microvisor): the key of its socket names."""
    return cage.microvisor


def _make_node(cage: Cage, name: bytes) -> tuple[int, tuple[object, ...]]:
    """Create the socket node of a path name in the root; ``(O_PATH fd, registry key)``."""
    path = guest_join(cage.cwd, name)
    with cage.microvisor.root.parent(path) as (dir_fd, last):
        if last in (b".", b".."):
            raise GuestError(EADDRINUSE)
        try:
            os.mknod(last, stat_mod.S_IFSOCK | (0o777 & ~cage.umask), dir_fd=dir_fd)
        except FileExistsError:
            raise GuestError(EADDRINUSE) from None
        path_only = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = hostfds.open_fd(lambda: os.open(last, path_only, dir_fd=dir_fd))
    st = os.fstat(fd)
    return fd, (world_of(cage), st.st_dev, st.st_ino)


def _lookup(cage: Cage, raw: bytes, stype: int) -> UnixSocket:
    """The socket bound to the guest address ``raw`` (``ECONNREFUSED`` when none listens)."""
    name = unix_name(raw)
    if name is None:
        raise GuestError(EINVAL)
    if name[0] == 0:
        target = _REGISTRY.get((world_of(cage), name))
    else:
        fd = cage.microvisor.root.open(guest_join(cage.cwd, name), os.O_PATH)
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if not stat_mod.S_ISSOCK(st.st_mode):
            raise GuestError(ECONNREFUSED)
        target = _REGISTRY.get((world_of(cage), st.st_dev, st.st_ino))
    if target is None or target.closed:
        raise GuestError(ECONNREFUSED)
    if target.stype != stype:
        raise GuestError(EPROTOTYPE)
    return target


async def _wait_on(
    cage: Cage, queues: list[WaitQueue], timeout: float | None, deadline: float
) -> float:
    """Wait until one of ``queues`` fires (``EAGAIN`` once an ``SO_*TIMEO`` passes)."""
    loop = asyncio.get_running_loop()
    if timeout is not None:
        now = loop.time()
        if not deadline:
            deadline = now + timeout
        if now >= deadline:
            raise GuestError(EAGAIN)
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    cancels = [queue.watchers.add(wake) for queue in queues]
    timer = loop.call_at(deadline, wake) if timeout is not None else None
    try:
        await cage.block_on(ready)
    finally:
        if timer is not None:
            timer.cancel()
        for cancel in cancels:
            cancel()
    return deadline


async def _guard_rights(pending: Awaitable[int], box: list[list[OpenFile] | None]) -> int:
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
    """The guest's bytes of a stream send, copied into the host only as the peer has room: a
    send of a huge buffer holds at most one socket buffer of host memory, never the whole."""

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


def _write_some(
    peer: UnixSocket, data: _Pending, done: int, box: list[list[OpenFile] | None]
) -> int:
    """Append to ``peer``'s stream what fits of ``data`` after ``done``; the byte count."""
    stream = peer.stream
    if stream is None:
        return 0
    room = min(stream.room, data.size - done)
    n = stream.write(data.take(done, room), box[0]) if room > 0 else 0
    if n:
        box[0] = None
        peer.readq.wake_all()
    return n
