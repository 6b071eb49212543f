"""The embedder's ``host_unix_sockets`` setting as a policy (rawposix/host_unix.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from lind_async.abi import flags as F
from lind_async.rawposix.host_unix import allowed, policy_of


def _cage(setting: Any) -> Any:
    return SimpleNamespace(world=SimpleNamespace(host_unix_sockets=policy_of(setting)))


def test_policy_of() -> None:
    assert policy_of(False) is False
    assert policy_of(None) is False
    assert policy_of(True) is True
    assert policy_of(["srv.sock", "/run/../a.sock", b"/x//y.sock"]) == frozenset(
        {b"/srv.sock", b"/a.sock", b"/x/y.sock"}
    )


def test_allowed() -> None:
    listed = _cage(["/srv.sock"])
    assert allowed(listed, b"/srv.sock", F.SOCK_STREAM)
    assert allowed(listed, b"/./srv.sock", F.SOCK_SEQPACKET)
    assert not allowed(listed, b"/other.sock", F.SOCK_STREAM)
    assert not allowed(listed, b"/srv.sock", F.SOCK_DGRAM)  # datagrams stay in-world
    assert allowed(_cage(True), b"/any/where.sock", F.SOCK_STREAM)
    assert not allowed(_cage(False), b"/srv.sock", F.SOCK_STREAM)
