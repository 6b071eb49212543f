"""A connect to a host socket whose backlog is full (rawposix/host_unix.py ``HostDial``): retried
after growing pauses through ``blocking.block``; ``EAGAIN`` when non-blocking or when the
``SO_SNDTIMEO`` deadline passes; ``EINTR`` from a signal; the node's fd closed whatever the end."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lind_async.abi import flags as F
from lind_async.abi.errno import EAGAIN, EINTR, GuestError
from lind_async.rawposix.host_unix import HostDial, HostUnixStream


class _Cage(SimpleNamespace):
    interrupted = False

    async def block_on(self, ready: asyncio.Future[None]) -> None:
        if self.interrupted:
            raise GuestError(EINTR)
        await ready


@pytest.fixture
def full_server(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A listening host socket whose backlog is full (connects would block)."""
    path = str(tmp_path / "srv.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(0)
    clients = []
    while True:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.setblocking(False)
        try:
            client.connect(path)
        except BlockingIOError:
            client.close()
            break
        clients.append(client)
        assert len(clients) < 64, "the backlog never filled"
    yield server, path
    for client in clients:
        client.close()
    server.close()


def _dial(path: str) -> HostDial:
    return HostDial(os.open(path, os.O_PATH), b"/srv.sock")


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError as exc:
        return exc.errno == errno.EBADF
    return False


def test_nonblocking_is_eagain_at_once(full_server: tuple[socket.socket, str]) -> None:
    dial = _dial(full_server[1])
    fd = dial.node_fd
    with pytest.raises(GuestError) as raised:
        dial.connect(_Cage(), F.SOCK_STREAM, None, True, None)
    assert raised.value.errno == EAGAIN
    assert dial.node_fd == -1 and _closed(fd)


def test_deadline_is_eagain(full_server: tuple[socket.socket, str]) -> None:
    dial = _dial(full_server[1])

    async def run() -> float:
        loop = asyncio.get_running_loop()
        pending = dial.connect(_Cage(), F.SOCK_STREAM, None, False, 0.05)
        assert not isinstance(pending, HostUnixStream)
        start = loop.time()
        with pytest.raises(GuestError) as raised:
            await pending
        assert raised.value.errno == EAGAIN
        return loop.time() - start

    assert 0.04 <= asyncio.run(run()) < 1.0
    assert dial.node_fd == -1


def test_signal_is_eintr(full_server: tuple[socket.socket, str]) -> None:
    dial = _dial(full_server[1])

    async def run() -> None:
        pending: Any = dial.connect(_Cage(interrupted=True), F.SOCK_STREAM, None, False, None)
        with pytest.raises(GuestError) as raised:
            await pending
        assert raised.value.errno == EINTR

    asyncio.run(run())
    assert dial.node_fd == -1


def test_retries_until_the_backlog_has_room(full_server: tuple[socket.socket, str]) -> None:
    server, path = full_server
    dial = _dial(path)
    accepted: list[socket.socket] = []

    async def run() -> HostUnixStream:
        loop = asyncio.get_running_loop()
        pending: Any = dial.connect(_Cage(), F.SOCK_STREAM, None, False, None)
        loop.call_later(0.03, lambda: accepted.append(server.accept()[0]))
        return await pending  # type: ignore[no-any-return]

    stream = asyncio.run(run())
    assert isinstance(stream, HostUnixStream)
    assert dial.node_fd == -1
    stream.release()
    for conn in accepted:
        conn.close()
