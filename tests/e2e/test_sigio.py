"""Signal-driven I/O (rawposix/sigio.py): O_ASYNC, FIOASYNC, F_SETOWN/F_GETOWN(_EX), F_SETSIG,
compared with the native build."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import STACKS, MatchesNative


@pytest.mark.parametrize("stack", STACKS)
def test_sigio_matches_native(stack: str, matches_native: MatchesNative) -> None:
    matches_native("srv_sigio", stack, quiet=True)


def test_host_socket_signals_new_input_only(matches_native: MatchesNative) -> None:
    """Host-fd sockets (TCP here) signal each new arrival once, however long it stays unread."""
    matches_native("sigio_edge", "plain", quiet=True)
