"""A local pool worker: ``python -m lind_async.pool.worker FRAMES_FD FDS_FD CONFIG_JSON``.

Theory of operation
-------------------
The pool starts each worker as a fresh Python process with two inherited unix sockets: the
frame socket (``wire.py`` frames both ways, driven by an asyncio protocol on a uvloop loop) and
the fd socket, on which the pool passes host fds for a cage's stdio (``SCM_RIGHTS``) just before
the spawn frame that uses them; being already queued on the socket when that frame is read,
they are received without waiting. The worker runs one :class:`lind_async.Microvisor`
(``CONFIG_JSON`` has its options) and a :class:`server.CageServer` on it.

The worker ends when the pool says ``SHUTDOWN`` or its frame socket closes (the pool is gone),
closing the microvisor first (every cage killed and reaped). It also asks the kernel to
``SIGKILL`` it if the pool's process dies (``PR_SET_PDEATHSIG``), so no worker outlives its
pool. Its ``TMPDIR`` is a directory the pool owns and removes, so a killed worker leaves no
temporary file behind either.
"""

from __future__ import annotations

import array
import asyncio
import ctypes
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from lind_async.pool import wire

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the pool died before the prctl
        os._exit(1)


class _Protocol(asyncio.Protocol):
    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done
        self.parser = wire.Parser(wire.MAX_TO_WORKER)
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.server: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            for kind, channel, payload in self.parser.feed(data):
                if kind == wire.SHUTDOWN:
                    self._finish()
                    return
                self.server.handle(kind, channel, payload)
        except Exception as exc:  # the pool sent something we cannot follow: give up
            print(f"lind_async pool worker {os.getpid()}: {exc!r}", file=sys.stderr)
            self._finish()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


def _fd_taker(sock: socket.socket) -> Any:
    def take(n: int) -> list[int]:
        fds: list[int] = []
        while len(fds) < n:
            msg, anc, _flags, _addr = sock.recvmsg(16, socket.CMSG_SPACE(n * 4))
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    got = array.array("i")
                    got.frombytes(data[: len(data) - len(data) % got.itemsize])
                    fds += list(got)
            if not msg and not anc:
                raise OSError("the pool's fd socket closed")
        return fds

    return take


async def serve(frames: socket.socket, fds: socket.socket, config: dict[str, Any]) -> None:
    from lind_async.embed import Microvisor
    from lind_async.pool.server import CageServer

    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    unix = config.get("host_unix_sockets", False)
    async with Microvisor(
        root=config["root"],
        memory_reservation=config.get("memory_reservation"),
        time_slice=config.get("time_slice", 0.005),
        cache_dir=config.get("cache_dir"),
        host_unix_sockets=unix if isinstance(unix, bool) else list(unix),
    ) as mv:
        proto = _Protocol(done)
        modules = config.get("modules_dir")
        server = CageServer(
            mv, proto.send, _fd_taker(fds), Path(modules) if modules is not None else None
        )
        proto.server = server
        transport, _ = await loop.create_unix_connection(lambda: proto, sock=frames)
        proto.send(wire.json_frame(wire.READY, 0, {"pid": os.getpid()}))
        try:
            await done
        finally:
            await server.close()
            await mv.aclose()
            transport.close()


def main(argv: list[str]) -> int:
    frames_fd, fds_fd, config = int(argv[0]), int(argv[1]), json.loads(argv[2])
    _die_with_parent(int(config["parent"]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool's ^C is the pool's to handle
    frames = socket.socket(fileno=frames_fd)
    frames.setblocking(False)
    fds = socket.socket(fileno=fds_fd)
    fds.setblocking(True)
    import uvloop

    uvloop.run(serve(frames, fds, config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
