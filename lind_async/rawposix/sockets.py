"""RawPOSIX socket family: socket, socketpair, bind, listen, accept[4], connect, get{sock,peer}name,
send{to,msg}, recv{from,msg}, shutdown, {set,get}sockopt.

Kinds: AF_INET/AF_INET6 are real non-blocking host sockets
(``sock_inet.py``); AF_UNIX is fully in-process (``unix_socket.py``), so ``SCM_RIGHTS`` can carry
any open file (pipes included) between cages. This module decodes guest arguments (``msghdr``,
``cmsghdr``, sockaddrs: ``abi/layouts.py``), finds the socket (``EBADF``, ``ENOTSOCK``) and writes
results back; the kinds do the work, inline when they can.

Rights (``SCM_RIGHTS``): sending takes one in-flight reference per description; receiving installs
them in the receiver's table (``MSG_CMSG_CLOEXEC``), dropping what the control buffer cannot hold
(``MSG_CTRUNC``).
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import (
    EAFNOSUPPORT,
    EBADF,
    EINVAL,
    EMSGSIZE,
    ENOBUFS,
    ENOTSOCK,
    EOPNOTSUPP,
    GuestError,
)
from lind_async.core.fdtable import OpenFile
from lind_async.memory import pointers
from lind_async.rawposix.args import i32, pointer, size
from lind_async.rawposix.files import SysResult
from lind_async.rawposix.netlink import AF_NETLINK, new_netlink_socket
from lind_async.rawposix.sock_addr import read_sockaddr, write_sockaddr
from lind_async.rawposix.sock_base import AcceptResult, Received, Socket, drop_rights
from lind_async.rawposix.sock_inet import new_inet_socket
from lind_async.rawposix.table import Row, Support
from lind_async.rawposix.unix_socket import UnixSocket, credentials, new_pair, unix_type

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

MAX_RW = 0x7FFFF000
IOV_MAX = 1024
SCM_MAX_FD = 253
OPTMEM_MAX = 65536  # the largest control buffer / option value we read
_MSGHDR = struct.Struct(L.MSGHDR.fmt)
_CMSGHDR = struct.Struct(L.CMSGHDR.fmt)
_TYPE_FLAGS = F.SOCK_NONBLOCK | F.SOCK_CLOEXEC


def _sock(cage: CageView, fd: int) -> Socket:
    file = cage.fds.file(i32(fd))
    if not isinstance(file, Socket):
        raise GuestError(ENOTSOCK)
    return file


def _install(cage: CageView, file: OpenFile, cloexec: bool) -> int:
    try:
        return cage.fds.install(file, cloexec=cloexec)
    except GuestError:
        file.release()  # type: ignore[attr-defined]
        raise


# -- creation ---------------------------------------------------------------------------------
def _split_type(kind: int) -> tuple[int, int]:
    stype, flags = kind & F.SOCK_TYPE_MASK, kind & ~F.SOCK_TYPE_MASK
    if flags & ~_TYPE_FLAGS:
        raise GuestError(EINVAL)
    status = F.O_NONBLOCK if flags & F.SOCK_NONBLOCK else 0
    return stype, status


def sys_socket(cage: CageView, domain: int, kind: int, protocol: int, *_: int) -> int:
    family, proto, raw_type = i32(domain), i32(protocol), i32(kind)
    stype, status = _split_type(raw_type)
    file: Socket
    if family == F.AF_UNIX:
        file = UnixSocket(unix_type(stype, proto), status, credentials(cage))
    elif family in (F.AF_INET, F.AF_INET6):
        file = new_inet_socket(family, stype, proto, status)
    elif family == AF_NETLINK:
        file = new_netlink_socket(cage, stype, proto, status)
    else:
        raise GuestError(EAFNOSUPPORT)
    return _install(cage, file, bool(raw_type & F.SOCK_CLOEXEC))


def sys_socketpair(cage: CageView, domain: int, kind: int, protocol: int, sv: int, *_: int) -> int:
    family, proto, raw_type = i32(domain), i32(protocol), i32(kind)
    stype, status = _split_type(raw_type)
    if family != F.AF_UNIX:
        raise GuestError(EOPNOTSUPP if family in (F.AF_INET, F.AF_INET6) else EAFNOSUPPORT)
    stype = unix_type(stype, proto)
    out = pointer(sv)
    cage.mem.check(out, 8)
    a, b = new_pair(stype, status, cage)
    cloexec = bool(raw_type & F.SOCK_CLOEXEC)
    fd_a = _install(cage, a, cloexec)
    try:
        fd_b = _install(cage, b, cloexec)
    except GuestError:
        released = cage.fds.close(fd_a)
        if released is not None:
            released.release()  # type: ignore[attr-defined]
        raise
    cage.mem.write_u32(out, fd_a)
    cage.mem.write_u32(out + 4, fd_b)
    return 0


# -- names and connections --------------------------------------------------------------------
def sys_bind(cage: CageView, fd: int, addr: int, addrlen: int, *_: int) -> int:
    sock = _sock(cage, fd)
    sock.bind(cage, read_sockaddr(cage, addr, addrlen))
    return 0


def sys_listen(cage: CageView, fd: int, backlog: int, *_: int) -> int:
    _sock(cage, fd).listen(i32(backlog))
    return 0


def sys_connect(cage: CageView, fd: int, addr: int, addrlen: int, *_: int) -> SysResult:
    sock = _sock(cage, fd)
    return sock.connect(cage, read_sockaddr(cage, addr, addrlen))


def sys_accept(cage: CageView, fd: int, addr: int, addrlen: int, *_: int) -> SysResult:
    return _accept(cage, fd, addr, addrlen, 0)


def sys_accept4(cage: CageView, fd: int, addr: int, addrlen: int, flags: int, *_: int) -> SysResult:
    return _accept(cage, fd, addr, addrlen, i32(flags))


def _accept(cage: CageView, fd: int, addr: int, addrlen: int, flags: int) -> SysResult:
    if flags & ~_TYPE_FLAGS:
        raise GuestError(EINVAL)
    sock = _sock(cage, fd)
    result = sock.accept(cage)
    if result.__class__ is tuple:
        return _accepted(cage, result, addr, addrlen, flags)
    return _accept_later(cage, result, addr, addrlen, flags)  # type: ignore[arg-type]


async def _accept_later(
    cage: CageView, pending: Awaitable[AcceptResult], addr: int, addrlen: int, flags: int
) -> int:
    return _accepted(cage, await pending, addr, addrlen, flags)


def _accepted(cage: CageView, result: AcceptResult, addr: int, addrlen: int, flags: int) -> int:
    new, peer = result
    new.status_flags = F.O_RDWR | (F.O_NONBLOCK if flags & F.SOCK_NONBLOCK else 0)
    try:
        write_sockaddr(cage, addr, addrlen, peer)
    except GuestError:
        new.release()
        raise
    return _install(cage, new, bool(flags & F.SOCK_CLOEXEC))


def sys_getsockname(cage: CageView, fd: int, addr: int, addrlen: int, *_: int) -> int:
    write_sockaddr(cage, addr, addrlen, _sock(cage, fd).sockname())
    return 0


def sys_getpeername(cage: CageView, fd: int, addr: int, addrlen: int, *_: int) -> int:
    write_sockaddr(cage, addr, addrlen, _sock(cage, fd).peername())
    return 0


def sys_shutdown(cage: CageView, fd: int, how: int, *_: int) -> int:
    mode = i32(how)
    if mode not in (F.SHUT_RD, F.SHUT_WR, F.SHUT_RDWR):
        raise GuestError(EINVAL)
    _sock(cage, fd).shutdown(mode)
    return 0


# -- data -------------------------------------------------------------------------------------
def sys_sendto(
    cage: CageView, fd: int, buf: int, length: int, flags: int, addr: int, addrlen: int
) -> SysResult:
    sock = _sock(cage, fd)
    view = cage.mem.slice(pointer(buf), min(size(length), MAX_RW))
    how = i32(flags)
    if pointer(addr) == 0 or i32(addrlen) == 0:
        return sock.send_from(cage, view, how)
    return sock.sendmsg(cage, [view], how, read_sockaddr(cage, addr, addrlen), None)


def sys_recvfrom(
    cage: CageView, fd: int, buf: int, length: int, flags: int, addr: int, addrlen: int
) -> SysResult:
    sock = _sock(cage, fd)
    view = cage.mem.slice(pointer(buf), min(size(length), MAX_RW))
    how = i32(flags)
    if pointer(addr) == 0:
        return sock.recv_into(cage, view, how)
    result = sock.recvmsg(cage, [view], how)
    if result.__class__ is tuple:
        return _received_from(cage, result, addr, addrlen)
    return _recvfrom_later(cage, result, addr, addrlen)  # type: ignore[arg-type]


async def _recvfrom_later(
    cage: CageView, pending: Awaitable[Received], addr: int, addrlen: int,
) -> int:
    return _received_from(cage, await pending, addr, addrlen)


def _received_from(cage: CageView, got: Received, addr: int, addrlen: int) -> int:
    n, raw, rights, _flags = got
    drop_rights(rights)
    write_sockaddr(cage, addr, addrlen, raw or b"")
    return n


def _msghdr(cage: CageView, msg: int) -> tuple[int, tuple[int, ...]]:
    base = pointer(msg)
    return pointers.segment_of(base), cage.mem.unpack(_MSGHDR, base)


_ptr = pointers.inner  # a pointer field of the msghdr: in its segment, NULL kept


def _iovecs(cage: CageView, segment: int, iov: int, count: int) -> list[memoryview]:
    return pointers.iovecs(cage.mem, _ptr(segment, iov), count, limit=IOV_MAX,
                           too_many=EMSGSIZE, max_total=MAX_RW)


def sys_sendmsg(cage: CageView, fd: int, msg: int, flags: int, *_: int) -> SysResult:
    sock = _sock(cage, fd)
    segment, (name, namelen, iov, iovlen, control, controllen, _f) = _msghdr(cage, msg)
    views = _iovecs(cage, segment, iov, iovlen)
    address = read_sockaddr(cage, _ptr(segment, name), namelen) if name and namelen else None
    rights = _rights_to_send(cage, _ptr(segment, control), controllen)
    return sock.sendmsg(cage, views, i32(flags), address, rights)


def _rights_to_send(cage: CageView, control: int, controllen: int) -> list[OpenFile] | None:
    """The descriptions named by the ``SCM_RIGHTS`` messages, each with an in-flight ref."""
    if controllen > OPTMEM_MAX:
        raise GuestError(ENOBUFS)
    if not control or controllen < _CMSGHDR.size:
        return None
    data = cage.mem.read(control, controllen)
    files: list[OpenFile] = []
    offset = 0
    while offset + _CMSGHDR.size <= len(data):
        length, level, kind = _CMSGHDR.unpack_from(data, offset)
        if length < _CMSGHDR.size or length > len(data) - offset:
            raise GuestError(EINVAL)
        if level == F.SOL_SOCKET:
            if kind == F.SCM_RIGHTS:
                count = (length - _CMSGHDR.size) // 4
                fds = struct.unpack_from(f"<{count}i", data, offset + _CMSGHDR.size)
                if len(files) + count > SCM_MAX_FD:
                    raise GuestError(EINVAL)
                files += [cage.fds.file(vfd) if vfd >= 0 else _bad() for vfd in fds]
            elif kind != F.SCM_CREDENTIALS:
                raise GuestError(EINVAL)
        offset += (length + 3) & ~3
    for file in files:
        file.refs += 1
    return files or None


def _bad() -> OpenFile:
    raise GuestError(EBADF)


def sys_recvmsg(cage: CageView, fd: int, msg: int, flags: int, *_: int) -> SysResult:
    sock = _sock(cage, fd)
    segment, (_name, _nl, iov, iovlen, _c, _cl, _f) = _msghdr(cage, msg)
    views = _iovecs(cage, segment, iov, iovlen)
    how = i32(flags)
    result = sock.recvmsg(cage, views, how)
    if result.__class__ is tuple:
        return _received_msg(cage, msg, how, result)
    return _recvmsg_later(cage, msg, how, result)  # type: ignore[arg-type]


async def _recvmsg_later(cage: CageView, msg: int, flags: int, pending: Awaitable[Received]) -> int:
    return _received_msg(cage, msg, flags, await pending)


def _received_msg(cage: CageView, msg: int, flags: int, got: Received) -> int:
    n, raw, rights, msg_flags = got
    try:
        segment, (name, namelen, iov, iovlen, control, controllen, _f) = _msghdr(cage, msg)
        if name:
            room = min(namelen, len(raw or b""))
            if raw and room:
                cage.mem.write(_ptr(segment, name), raw[:room])
            namelen = len(raw or b"")
        used, truncated = _deliver_rights(
            cage, _ptr(segment, control), controllen, rights, bool(flags & F.MSG_CMSG_CLOEXEC)
        )
        rights = None
    finally:
        drop_rights(rights)
    if truncated:
        msg_flags |= F.MSG_CTRUNC
    cage.mem.pack(_MSGHDR, pointer(msg), name, namelen, iov, iovlen, control, used, msg_flags)
    return n


def _deliver_rights(
    cage: CageView, control: int, controllen: int, rights: list[OpenFile] | None, cloexec: bool
) -> tuple[int, bool]:
    """Install received rights and write their ``SCM_RIGHTS`` message; ``(control bytes used,
    truncated)``. Rights that do not fit are dropped."""
    if not rights:
        return 0, False
    fit = (controllen - _CMSGHDR.size) // 4 if control and controllen >= _CMSGHDR.size else 0
    fit = max(0, min(fit, len(rights)))
    if fit:
        cage.mem.check(control, _CMSGHDR.size + 4 * fit)
    fds: list[int] = []
    for file in rights[:fit]:
        try:
            fds.append(cage.fds.install(file, cloexec=cloexec))
        except GuestError:
            break
        file.refs -= 1  # the in-flight reference became the table's
    taken = len(fds)
    drop_rights(rights[taken:])
    if not taken:
        return 0, True
    length = _CMSGHDR.size + 4 * taken
    cage.mem.pack(_CMSGHDR, control, length, F.SOL_SOCKET, F.SCM_RIGHTS)
    cage.mem.write(control + _CMSGHDR.size, struct.pack(f"<{taken}i", *fds))
    return min((length + 3) & ~3, controllen), taken < len(rights)


# -- options ----------------------------------------------------------------------------------
def sys_setsockopt(
    cage: CageView, fd: int, level: int, name: int, value: int, length: int, *_: int
) -> int:
    sock = _sock(cage, fd)
    optlen = i32(length)
    if optlen < 0:
        raise GuestError(EINVAL)
    data = cage.mem.read(pointer(value), min(optlen, OPTMEM_MAX)) if optlen else b""
    sock.setsockopt(i32(level), i32(name), data)
    return 0


def sys_getsockopt(
    cage: CageView, fd: int, level: int, name: int, value: int, length: int, *_: int
) -> int:
    sock = _sock(cage, fd)
    len_at = pointer(length)
    room = i32(cage.mem.read_u32(len_at))
    if room < 0:
        raise GuestError(EINVAL)
    data = sock.getsockopt(i32(level), i32(name), room)
    n = min(room, len(data))
    cage.mem.write(pointer(value), data[:n])
    cage.mem.write_u32(len_at, n)
    return 0


ROWS: list[Row] = [
    (
        nr.SYS_socket, sys_socket, Support.PARTIAL,
        "AF_INET[6] host; AF_UNIX in-process; AF_NETLINK route dumps",
    ),
    (nr.SYS_socketpair, sys_socketpair, Support.FULL, "AF_UNIX stream/dgram/seqpacket"),
    (nr.SYS_bind, sys_bind, Support.FULL, "AF_UNIX paths confined to --root"),
    (nr.SYS_listen, sys_listen, Support.FULL, ""),
    (nr.SYS_accept, sys_accept, Support.FULL, ""),
    (nr.SYS_accept4, sys_accept4, Support.FULL, "SOCK_NONBLOCK SOCK_CLOEXEC"),
    (nr.SYS_connect, sys_connect, Support.FULL, "blocking: waits on loop readiness"),
    (nr.SYS_getsockname, sys_getsockname, Support.FULL, ""),
    (nr.SYS_getpeername, sys_getpeername, Support.FULL, ""),
    (nr.SYS_sendto, sys_sendto, Support.FULL, "MSG_DONTWAIT MSG_NOSIGNAL"),
    (nr.SYS_recvfrom, sys_recvfrom, Support.FULL, "MSG_DONTWAIT MSG_PEEK MSG_WAITALL"),
    (nr.SYS_sendmsg, sys_sendmsg, Support.PARTIAL, "SCM_RIGHTS on AF_UNIX"),
    (nr.SYS_recvmsg, sys_recvmsg, Support.PARTIAL, "SCM_RIGHTS, MSG_CMSG_CLOEXEC, MSG_CTRUNC"),
    (nr.SYS_shutdown, sys_shutdown, Support.FULL, ""),
    (nr.SYS_setsockopt, sys_setsockopt, Support.PARTIAL, "common SOL_SOCKET/TCP/IP options"),
    (nr.SYS_getsockopt, sys_getsockopt, Support.PARTIAL, "common SOL_SOCKET/TCP/IP options"),
]
