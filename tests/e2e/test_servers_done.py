"""Server patterns end to end, compared with the native build: an nginx-style master/worker
reload driven by a sibling process through the pid file (SIGHUP, then SIGTERM; O_ASYNC channel
pipes to the workers), and a Redis-style BGSAVE (a forked child snapshots the table while the
parent changes it; reaped from a SIGCHLD handler)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import MatchesNative

SERVER_STACKS = ["plain", "c-passthrough"]


@pytest.mark.parametrize("stack", SERVER_STACKS)
def test_master_worker_reload(stack: str, matches_native: MatchesNative) -> None:
    matches_native("srv_reload", stack, quiet=True)


@pytest.mark.parametrize("stack", SERVER_STACKS)
def test_background_save_copies_memory(stack: str, matches_native: MatchesNative) -> None:
    matches_native("srv_bgsave", stack, quiet=True)
