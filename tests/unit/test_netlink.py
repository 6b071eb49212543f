"""The in-process NETLINK_ROUTE socket (lind_async/rawposix/netlink.py), driven directly."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

import pytest

from lind_async.abi.errno import ENOBUFS, GuestError
from lind_async.rawposix import netlink

_HDR = struct.Struct("<IHHII")


def _sock() -> netlink.NetlinkSocket:
    cage: Any = SimpleNamespace(world=object(), cage_id=4242)
    return netlink.NetlinkSocket(cage, 3, 0)


def _request(kind: int, flags: int, seq: int, body: bytes = b"\0" * 4) -> memoryview:
    return memoryview(_HDR.pack(_HDR.size + len(body), kind, flags, seq, 0) + body)


def _messages(sock: netlink.NetlinkSocket) -> list[tuple[int, int, int, bytes]]:
    out = []
    buf = bytearray(1 << 16)
    while len(sock.queue):
        n = sock._take([memoryview(buf)], 0)[0]
        offset = 0
        while offset < n:
            length, kind, _flags, seq, pid = _HDR.unpack_from(buf, offset)
            out.append((kind, seq, pid, bytes(buf[offset + 16 : offset + length])))
            offset += (length + 3) & ~3
    return out


def test_link_dump_ends_with_done_and_carries_the_guests_seq_and_port() -> None:
    sock = _sock()
    cage: Any = SimpleNamespace(world=sock.world, cage_id=4242)
    sock.sendmsg(cage, [_request(18, 0x301, 99)], 0, None, None)
    got = _messages(sock)
    assert got[-1][0] == netlink.NLMSG_DONE
    assert any(kind == 16 for kind, *_ in got)  # RTM_NEWLINK: at least the loopback
    assert {(seq, pid) for _, seq, pid, _ in got} == {(99, 4242)}


@pytest.mark.parametrize("kind", [16, 17, 19, 20, 21, 24, 25])  # RTM_NEW*/DEL*/SET*
def test_changes_are_refused_with_eperm_and_never_reach_the_host(kind: int) -> None:
    sock = _sock()
    cage: Any = SimpleNamespace(world=sock.world, cage_id=4242)
    sock.sendmsg(cage, [_request(kind, 0x5, 7, b"\0" * 16)], 0, None, None)
    [(reply, seq, _pid, body)] = _messages(sock)
    assert (reply, seq) == (netlink.NLMSG_ERROR, 7)
    assert struct.unpack_from("<i", body)[0] == -1  # -EPERM
    assert _HDR.unpack_from(body, 4)[1] == kind  # the request echoed


def test_unread_replies_are_bounded_by_the_receive_buffer() -> None:
    sock = _sock()
    cage: Any = SimpleNamespace(world=sock.world, cage_id=4242)
    for seq in range(10_000):
        sock.sendmsg(cage, [_request(18, 0x301, seq)], 0, None, None)
        if sock.error:
            break
    assert sock.error == ENOBUFS
    assert sock.queue.size < 2 * sock._rcvbuf()
    with pytest.raises(GuestError) as err:
        sock.recvmsg(cage, [memoryview(bytearray(64))], 0)
    assert err.value.errno == ENOBUFS and sock.error == 0
