"""Networking conformance (AF_UNIX pairs and buffers, socket options, interfaces, name lookup):
C programs compared with the same source built natively, and libc behaviour checked against
musl's own source where glibc (the native build's libc) differs."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import STACKS, MatchesNative


@pytest.mark.parametrize("stack", STACKS)
def test_socketpair(stack: str, matches_native: MatchesNative) -> None:
    """Every AF_UNIX type as a pair: flags, names, data, peek, rights, shutdown, fork, errors;
    seqpacket through a listener too."""
    matches_native("net_socketpair", stack, quiet=True)


def test_unix_flow_control(matches_native: MatchesNative) -> None:
    """A non-blocking sender fills exactly what Linux lets it (by type, write size, SO_SNDBUF),
    SO_SNDBUF/SO_RCVBUF read back as Linux sets them, the largest datagram."""
    matches_native("net_sockbuf", "plain", quiet=True)


def test_socket_options(matches_native: MatchesNative) -> None:
    """get/setsockopt on AF_UNIX (every type), TCP, UDP and UDPv6 sockets: values, doubling,
    booleans, unknown options (ENOPROTOOPT) and levels (EOPNOTSUPP/ENOPROTOOPT), bad lengths."""
    matches_native("net_sockopt", "plain", quiet=True)


def test_interfaces(matches_native: MatchesNative) -> None:
    """getifaddrs, if_nameindex, if_nametoindex/if_indextoname and SIOCGIF* list the host's
    interfaces as natively; a netlink route socket dumps links and refuses changes."""
    matches_native("net_ifaddrs", "plain", quiet=True)
