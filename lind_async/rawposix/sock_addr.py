"""Guest socket addresses: reading, writing back (with Linux's truncation rules) and translation.

The guest's ``struct sockaddr_in``/``sockaddr_in6``/``sockaddr_un`` have the Linux x86_64 byte
layout (``abi/layouts.py``), so raw bytes can be handed to the host kernel as they are for
AF_INET/AF_INET6. AF_UNIX names never reach the host: ``rawposix/unix_socket.py`` resolves them
inside the root.
"""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi.errno import EAFNOSUPPORT, EINVAL, GuestError
from lind_async.rawposix.args import i32, pointer

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

SOCKADDR_MAX = 128  # sizeof(struct sockaddr_storage): longer addresses are EINVAL
SUN_PATH_OFFSET = L.SOCKADDR_UN.offset("sun_path")
SUN_PATH_MAX = L.SOCKADDR_UN.field("sun_path").size
_IN = struct.Struct(L.SOCKADDR_IN.fmt)
_IN6 = struct.Struct(L.SOCKADDR_IN6.fmt)
_FAMILY = struct.Struct("<H")

InetAddress = tuple[str, int] | tuple[str, int, int, int]


def read_sockaddr(cage: CageView, addr: int, addrlen: int) -> bytes:
    """The ``addrlen`` bytes of a guest sockaddr (``EINVAL`` for a bad length, ``EFAULT``)."""
    length = i32(addrlen)
    if not 0 <= length <= SOCKADDR_MAX:
        raise GuestError(EINVAL)
    return cage.mem.read(pointer(addr), length)


def write_sockaddr(cage: CageView, addr: int, addrlen_ptr: int, raw: bytes) -> None:
    """Store an address for accept/recvfrom/getsockname: at most ``*addrlen`` bytes are copied
    and ``*addrlen`` is set to the full length (a NULL ``addr`` stores nothing)."""
    where = pointer(addr)
    if where == 0:
        return
    len_at = pointer(addrlen_ptr)
    room = i32(cage.mem.read_u32(len_at))
    if room < 0:
        raise GuestError(EINVAL)
    cage.mem.write(where, raw[:room])
    cage.mem.write_u32(len_at, len(raw))


def family_of(raw: bytes) -> int:
    return _FAMILY.unpack_from(raw)[0] if len(raw) >= 2 else -1


def inet_address(raw: bytes, family: int) -> InetAddress:
    """A guest AF_INET/AF_INET6 address as Python's socket module takes it (sendto)."""
    if family == F.AF_INET:
        if len(raw) < _IN.size:
            raise GuestError(EINVAL)
        fam, port, addr, _zero = _IN.unpack_from(raw)
        if fam not in (F.AF_INET, F.AF_UNSPEC):
            raise GuestError(EAFNOSUPPORT)
        return socket.inet_ntop(socket.AF_INET, addr), int.from_bytes(port, "big")
    if len(raw) < 24:  # SIN6_LEN_RFC2133: the scope id is optional
        raise GuestError(EINVAL)
    fam, port, flow, addr, scope = _IN6.unpack_from(raw.ljust(_IN6.size, b"\0"))
    if fam != F.AF_INET6:
        raise GuestError(EAFNOSUPPORT)
    return socket.inet_ntop(socket.AF_INET6, addr), int.from_bytes(port, "big"), flow, scope


def inet_sockaddr(address: object) -> bytes:
    """A Python socket address (as ``recvfrom`` returns it) as guest sockaddr bytes."""
    if not isinstance(address, tuple):
        return _FAMILY.pack(F.AF_UNSPEC)
    host = str(address[0]).partition("%")[0]
    port = int(address[1]).to_bytes(2, "big")
    if len(address) == 2:
        return _IN.pack(F.AF_INET, port, socket.inet_pton(socket.AF_INET, host), b"")
    packed = socket.inet_pton(socket.AF_INET6, host)
    return _IN6.pack(F.AF_INET6, port, int(address[2]), packed, int(address[3]))


def unix_name(raw: bytes) -> bytes | None:
    """The name in a guest ``sockaddr_un``: a path (no NUL), ``b"\\0" + abstract name``, or
    ``None`` for an empty address (autobind). ``EINVAL`` as Linux for bad lengths/families."""
    if len(raw) < 2 or len(raw) > SUN_PATH_OFFSET + SUN_PATH_MAX:
        raise GuestError(EINVAL)
    if family_of(raw) != F.AF_UNIX:
        raise GuestError(EINVAL)
    path = raw[SUN_PATH_OFFSET:]
    if not path:
        return None
    if path[0] == 0:
        return path  # abstract: every byte counts
    path = path.partition(b"\0")[0]
    return path


def unix_sockaddr(name: bytes | None) -> bytes:
    """The guest ``sockaddr_un`` bytes getsockname/accept report for ``name``."""
    head = _FAMILY.pack(F.AF_UNIX)
    if name is None:
        return head
    if name[:1] == b"\0":
        return head + name
    return head + name + b"\0"
