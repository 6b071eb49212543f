"""Outbound host AF_UNIX (rawposix/host_unix.py's HostDial): with the embedder's opt-in, a cage's
connect() to a socket a host process listens on under the root reaches it, and the program's
output matches its native build; without the opt-in (or for a path not listed) the node is
refused as before, and a symlink in the root cannot lead a connect to a host socket outside."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Result, run_cage, run_native

TYPES = {"stream": socket.SOCK_STREAM, "seqpacket": socket.SOCK_SEQPACKET,
         "dgram": socket.SOCK_DGRAM, "async": socket.SOCK_STREAM}  # fmt: skip


class HostServer:
    """A host process's AF_UNIX server at ``path``: streams and seqpackets get ``echo: <msg>``
    back (then the connection closes), datagrams are collected in ``got``; ``async`` answers
    ``1`` then, 350 ms later, ``2`` (for the client's SIGIO count) and waits for EOF."""

    def __init__(self, path: Path, kind: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, TYPES[kind])
        self.sock.bind(os.fspath(path))
        self.sock.settimeout(60)
        self.kind = kind
        self.got: list[bytes] = []
        if kind != "dgram":
            self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            if self.kind == "dgram":
                self.got.append(self.sock.recv(512))
                return
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(60)
                data = b""
                if self.kind == "async":
                    data = conn.recv(512)
                    conn.sendall(b"1")
                    time.sleep(0.35)
                    conn.sendall(b"2")
                    conn.recv(512)
                    self.got.append(data)
                    return
                while chunk := conn.recv(512):
                    data += chunk
                    if self.kind == "seqpacket":
                        break
                self.got.append(data)
                conn.sendall(b"echo: " + data)
        except OSError:
            return  # the test closed the server, or nobody came

    def close(self) -> None:
        # shutdown wakes the thread if it still waits in accept or recv (close alone does not)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the host server did not stop"


@pytest.fixture
def servers() -> Iterator[list[HostServer]]:
    made: list[HostServer] = []
    yield made
    for server in made:
        server.close()


def _run(program: Path, root: Path, args: list[str], extra: list[str]) -> Result:
    return run_cage(program, args, root=root, extra=extra, timeout=60)


@pytest.mark.parametrize("kind", list(TYPES))
def test_connect_to_host_server_matches_native(
    kind: str, tmp_path: Path, cage_program: Any, native_program: Any,
    servers: list[HostServer],
) -> None:  # fmt: skip
    args = ["host.sock", kind, "hello host"]
    results = []
    for where, run in (("native", "native"), ("cage", "cage")):
        root = tmp_path / where
        root.mkdir()
        servers.append(HostServer(root / "host.sock", kind))
        if run == "native":
            results.append(run_native(native_program("hostunix_client"), args, root=root))
        else:
            extra = ["--host-unix-sockets"]
            results.append(_run(cage_program("hostunix_client"), root, args, extra))
        servers[-1].thread.join(30)
    native, cage = results
    detail = cage.stderr.decode(errors="replace")
    assert cage.stdout == native.stdout, detail
    assert cage.status == native.status == 0, detail
    assert cage.stderr == b"", detail
    assert servers[0].got == servers[1].got == [b"hello host"]
    assert b"connected type=same" in cage.stdout


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        ([], b"connect: ECONNREFUSED\n"),  # no opt-in: as before this feature
        (["--host-unix-socket", "/other.sock"], b"connect: ECONNREFUSED\n"),  # not listed
        (["--host-unix-socket", "/host.sock"], b"got: echo: listed\n"),
    ],
    ids=["off", "not-listed", "listed"],
)
def test_opt_in_per_path(
    tmp_path: Path, cage_program: Any, servers: list[HostServer], extra: list[str],
    expect: bytes,
) -> None:  # fmt: skip
    servers.append(HostServer(tmp_path / "host.sock", "stream"))
    got = _run(cage_program("hostunix_client"), tmp_path, ["/host.sock", "stream", "listed"],
               extra)  # fmt: skip
    assert got.status == 0, got.stderr
    assert expect in got.stdout, got.stdout


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_symlink_out_of_root_is_not_followed(
    tmp_path: Path, cage_program: Any, servers: list[HostServer], how: str
) -> None:
    """A host server outside the root, a symlink in the root naming it: the name resolves
    inside the root (where nothing is), so the connect fails with ENOENT, and the server saw
    nobody."""
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    servers.append(HostServer(outside / "host.sock", "stream"))
    target = outside / "host.sock" if how == "absolute" else Path("../outside/host.sock")
    (root / "link.sock").symlink_to(target)
    got = _run(cage_program("hostunix_client"), root, ["/link.sock", "stream", "escape"],
               ["--host-unix-sockets"])  # fmt: skip
    assert got.status == 0, got.stderr
    assert got.stdout == b"connect: ENOENT\n"
    assert servers[0].got == []
