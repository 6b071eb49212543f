"""Interface ioctls on sockets (``SIOCGIF*``): what ``if_nametoindex``, ``if_indextoname``,
``SIOCGIFCONF`` listings and ``ifconfig``-style queries ask.

Theory of operation
-------------------
Cages see the host's interfaces as the host sees them (the AF_INET sockets are host sockets; see
docs/decisions.md), so each query is asked of the host on a short-lived host ``AF_INET``
datagram socket and the answer copied back. Only *queries* go to the host: every ``SIOCSIF*``
request (set flags, addresses, MTU, names...) is ``EPERM`` whoever runs the microvisor.

Layouts differ: the guest's ``struct ifreq`` is 32 bytes on wasm32 (its union holds a
``struct ifmap`` of two 32-bit longs) against 40 on x86_64, but the name (16 bytes) and the
first 16 bytes of the union (a sockaddr, flags, an index, an MTU) sit at the same offsets, and
no query answers more. ``struct ifconf`` is ``{int len; u32 pointer}`` in the guest.
"""

from __future__ import annotations

import ctypes
import fcntl
import socket
import struct
from typing import TYPE_CHECKING

from lind_async.abi.errno import EFAULT, EPERM, GuestError
from lind_async.rawposix import hostfds
from lind_async.rawposix.args import pointer

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

SIOCGIFCONF = 0x8912
QUERIES = frozenset((
    0x8910,  # SIOCGIFNAME
    0x8913,  # SIOCGIFFLAGS
    0x8915,  # SIOCGIFADDR
    0x8917,  # SIOCGIFDSTADDR
    0x8919,  # SIOCGIFBRDADDR
    0x891B,  # SIOCGIFNETMASK
    0x891D,  # SIOCGIFMETRIC
    0x8921,  # SIOCGIFMTU
    0x8927,  # SIOCGIFHWADDR
    0x8933,  # SIOCGIFINDEX
    0x8942,  # SIOCGIFTXQLEN
))  # fmt: skip
CHANGES = frozenset((
    0x8914, 0x8916, 0x8918, 0x891A, 0x891C, 0x891E, 0x8922, 0x8923, 0x8924, 0x8930, 0x8931,
    0x8934, 0x8936, 0x8943, 0x8949, 0x8950, 0x8951,
))  # fmt: skip
"""``SIOCSIF*``, ``SIOCADDMULTI``/``SIOCDELMULTI``, ``SIOCSIFPFLAGS``, ``SIOCSIFHWBROADCAST``,
``SIOCSIFTXQLEN``, ``SIOCSIFMAP``, bridge changes: refused."""
REQUESTS = QUERIES | CHANGES | {SIOCGIFCONF}

GUEST_IFREQ = 32
HOST_IFREQ = 40
_COMMON = 32  # name + the part of the union every query uses
_GUEST_IFCONF = struct.Struct("<iI")
_HOST_IFCONF = struct.Struct("<i4xQ")
_MAX_INTERFACES = 1024


def socket_ioctl(cage: CageView, request: int, arg: int) -> int:
    """Answer ``request`` (one of :data:`REQUESTS`) on a socket."""
    if request in CHANGES:
        raise GuestError(EPERM)
    if request == SIOCGIFCONF:
        return _ifconf(cage, pointer(arg))
    where = pointer(arg)
    asked = cage.mem.read(where, GUEST_IFREQ)
    answer = _host_ioctl(request, asked[:_COMMON].ljust(HOST_IFREQ, b"\0"))
    cage.mem.write(where, answer[:_COMMON])
    return 0


def _host_socket() -> socket.socket:
    return hostfds.make(
        lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC),
        socket.socket.fileno,
        socket.socket.close,
    )


def _host_ioctl(request: int, data: bytes | bytearray) -> bytes:
    with _host_socket() as host:
        return bytes(fcntl.ioctl(host.fileno(), request, bytes(data)))


def _ifconf(cage: CageView, where: int) -> int:
    length, buf = cage.mem.unpack(_GUEST_IFCONF, where)
    entries = _host_ifconf()
    if buf == 0:  # a size query: the room every entry needs
        cage.mem.pack(_GUEST_IFCONF, where, len(entries) * GUEST_IFREQ, 0)
        return 0
    if length < 0:
        raise GuestError(EFAULT)
    fit = min(len(entries), length // GUEST_IFREQ)
    out = b"".join(entry[:_COMMON] for entry in entries[:fit])
    cage.mem.write(buf, out)
    cage.mem.pack(_GUEST_IFCONF, where, len(out), buf)
    return 0


def _host_ifconf() -> list[bytes]:
    """The host's ``SIOCGIFCONF`` entries (host ``ifreq`` bytes)."""
    room = ctypes.create_string_buffer(_MAX_INTERFACES * HOST_IFREQ)
    conf = bytearray(_HOST_IFCONF.pack(len(room), ctypes.addressof(room)))
    with _host_socket() as host:
        fcntl.ioctl(host.fileno(), SIOCGIFCONF, conf)
    used = _HOST_IFCONF.unpack(conf)[0]
    raw = room.raw[:used]
    return [raw[i : i + HOST_IFREQ] for i in range(0, used, HOST_IFREQ)]
