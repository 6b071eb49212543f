"""Sockets: C programs compared with their native build, and a cage server with a host client."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, STACKS, MatchesNative

CASES = ["sock_tcp_echo", "sock_inet", "sock_unix"]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", CASES)
def test_matches_native(name: str, stack: str, matches_native: MatchesNative) -> None:
    matches_native(name, stack, quiet=True)


async def _echo_client(port: int, messages: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    checked = 0
    for i in range(messages):
        size = 1 + (i * 37) % 8000
        payload = bytes((i * 7 + k * 13) & 0xFF for k in range(size))
        writer.write(payload)
        await writer.drain()
        echoed = await reader.readexactly(size)
        assert echoed == payload, f"message {i} differs"
        checked += size
    writer.close()
    await writer.wait_closed()
    return checked


def test_cage_server_host_client(cage_program: Any, tmp_path: Path) -> None:
    """The echo server runs in a cage on 127.0.0.1; an asyncio client on the host checks every
    byte of 1,000 messages."""
    wasm = cage_program("sock_tcp_echo")
    root = tmp_path / "root"
    root.mkdir()
    cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm), "0", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("port "), line
        port = int(line.split()[1])
        checked = asyncio.run(asyncio.wait_for(_echo_client(port, 1000), 120))
        assert checked == sum(1 + (i * 37) % 8000 for i in range(1000))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out.decode() == "served 1\n", err.decode()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
