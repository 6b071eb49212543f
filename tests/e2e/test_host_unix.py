"""Host-reachable AF_UNIX sockets (rawposix/host_unix.py): a cage's echo server on /srv.sock
answers a host client at <root>/srv.sock when the embedder allows it, a cage client in-process
either way, and nothing on the host when not allowed."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import lind_async
from tests.e2e.conftest import REPO

HostUnix = bool | list[str]


@pytest.fixture(scope="module")
def echo(cage_program: Any) -> Path:
    return Path(cage_program("hostunix_echo"))


async def _server(mv: lind_async.Microvisor, echo: Path, conns: int, *how: str) -> Any:
    server = await mv.create_cage_exec(echo, "server", str(conns), *how, stdout=lind_async.PIPE)
    assert await asyncio.wait_for(server.stdout.readline(), 30) == b"ready\n"
    return server


async def _cage_client(mv: lind_async.Microvisor, echo: Path, text: str) -> bytes:
    client = await mv.create_cage_exec(echo, "client", text, stdout=lind_async.PIPE)
    out, _ = await asyncio.wait_for(client.communicate(), 30)
    assert client.returncode == 0
    return bytes(out)


@pytest.mark.parametrize(
    ("allow", "how"), [(True, "accept"), (["/srv.sock"], "poll")], ids=["all", "listed-poll"]
)
async def test_host_and_cage_clients(tmp_path: Path, echo: Path, allow: HostUnix, how: str) -> None:
    """The server waits for a host connection in a blocking accept or in poll."""
    async with lind_async.Microvisor(root=tmp_path, host_unix_sockets=allow) as mv:
        server = await _server(mv, echo, 2, how)
        node = tmp_path / "srv.sock"
        assert stat.S_ISSOCK(node.lstat().st_mode)
        reader, writer = await asyncio.open_unix_connection(str(node))
        assert await reader.readexactly(1) == b"R"  # the rights did not come along
        for line in (b"hello from the host\n", b"second line\n"):
            writer.write(line)
            assert await asyncio.wait_for(reader.readline(), 10) == line
        writer.close()
        await writer.wait_closed()
        assert await _cage_client(mv, echo, "from a cage") == b"got: from a cage\n"
        out, _ = await asyncio.wait_for(server.communicate(), 30)
    assert server.returncode == 0
    assert out.splitlines() == [
        b"conn 0 rights=EPERM peerlen=2 name=/srv.sock",  # the host peer: unnamed, no host path
        b"conn 1 rights=ok peerlen=2 name=/srv.sock",
    ]
    assert stat.S_ISSOCK(node.lstat().st_mode)  # closing leaves the node, as on Linux


@pytest.mark.parametrize("allow", [False, ["/other.sock"]], ids=["off", "not-listed"])
async def test_not_allowed_stays_in_world(tmp_path: Path, echo: Path, allow: HostUnix) -> None:
    async with lind_async.Microvisor(root=tmp_path, host_unix_sockets=allow) as mv:
        server = await _server(mv, echo, 1, "poll")
        node = tmp_path / "srv.sock"
        assert stat.S_ISSOCK(node.lstat().st_mode)  # the in-world node
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_unix_connection(str(node))
        assert await _cage_client(mv, echo, "in world") == b"got: in world\n"
        out, _ = await asyncio.wait_for(server.communicate(), 30)
    assert out == b"conn 0 rights=ok peerlen=2 name=/srv.sock\n"


def test_cli_flag(tmp_path: Path, echo: Path) -> None:
    cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(tmp_path),
           "--host-unix-sockets", str(echo), "server", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        with socket.socket(socket.AF_UNIX) as host:
            host.settimeout(30)
            host.connect(os.fspath(tmp_path / "srv.sock"))
            assert host.recv(1) == b"R"
            host.sendall(b"via run\n")
            host.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := host.recv(100):
                got += chunk
        assert got == b"via run\n"
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()
