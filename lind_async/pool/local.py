"""A local pool worker as the pool sees it: a child process and its two unix sockets.

Theory of operation
-------------------
:class:`LocalLink` starts ``python -m lind_async.pool.worker`` (``worker.py``) with one end of
two socket pairs: frames both ways, and host fds (``SCM_RIGHTS``) the pool hands over for a
cage's stdio. It is anyio code (asyncio, uvloop, trio). ``send`` only queues: one writer task
joins whatever is queued into one ``send`` on the socket; when nothing is queued, ``send``
writes to the (non-blocking) socket at once, which saves a task switch per frame. The worker's
end of each pair lives only in the worker, so the worker's death is end-of-file here, whatever
killed it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections import deque
from typing import Any

import anyio
from anyio.abc import Process, UNIXSocketStream


class LocalLink:
    """One worker process and its connection (``Pool`` drives it)."""

    remote_fds = True  # host fds can be passed for a cage's stdio

    def __init__(self, config: dict[str, Any], tmpdir: str) -> None:
        self.config = config
        self.tmpdir = tmpdir
        self.process: Process | None = None
        self.pid = 0
        self._stream: UNIXSocketStream | None = None
        self._fds: socket.socket | None = None
        self._sock: socket.socket | None = None
        self._queue: deque[bytes] = deque()
        self._busy = False  # the writer task is sending: later data must queue behind it
        self._wake = anyio.Event()
        self._closed = False

    async def start(self) -> None:
        frames, frames_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fds, fds_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        os.makedirs(self.tmpdir, mode=0o700, exist_ok=True)
        config = dict(self.config, parent=os.getpid())
        try:
            self.process = await anyio.open_process(
                [
                    sys.executable,
                    "-m",
                    "lind_async.pool.worker",
                    str(frames_child.fileno()),
                    str(fds_child.fileno()),
                    json.dumps(config),
                ],
                stdin=None,
                stdout=None,
                stderr=None,
                pass_fds=(frames_child.fileno(), fds_child.fileno()),
                env=dict(os.environ, TMPDIR=self.tmpdir),
            )
        except BaseException:
            for s in (frames, fds):
                s.close()
            raise
        finally:
            frames_child.close()
            fds_child.close()
        self.pid = self.process.pid
        self._fds = fds
        self._stream = await UNIXSocketStream.from_socket(frames)
        self._sock = frames  # non-blocking now

    def send(self, data: bytes) -> None:
        if self._closed:
            return
        if not self._queue and not self._busy and self._sock is not None:
            try:  # the socket has room almost always: no task switch, no loop iteration
                sent = self._sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                return  # the worker is gone: the read side reports it
            if sent == len(data):
                return
            data = data[sent:]
        self._queue.append(data)
        self._wake.set()

    def send_fds(self, fds: list[int]) -> None:
        """Pass host fds, to be taken by the next spawn frame that names them."""
        assert self._fds is not None
        socket.send_fds(self._fds, [b"f"], fds)

    async def write_loop(self) -> None:
        """Send what is queued until the link closes (runs as the pool's task)."""
        assert self._stream is not None
        while not self._closed:
            if not self._queue:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            data = b"".join(self._queue)
            self._queue.clear()
            self._busy = True
            try:
                await self._stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                return  # the worker is gone: the read side reports it
            finally:
                self._busy = False

    async def receive(self) -> bytes:
        """The next bytes from the worker; ``b""`` once it is gone."""
        assert self._stream is not None
        try:
            return await self._stream.receive(1 << 18)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError,
                OSError):
            return b""

    def describe(self, code: int | None) -> str:
        if code is None:
            return "its connection broke"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
            return f"killed by signal {-code}"
        return f"exited with status {code}"

    async def exit_code(self, timeout: float = 2.0) -> int | None:
        """The worker process's return code, killing it if it has not ended by ``timeout``."""
        if self.process is None:
            return None
        with anyio.move_on_after(timeout):
            return await self.process.wait()
        self.kill()
        with anyio.CancelScope(shield=True):
            await self.process.wait()
        return None

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def close(self) -> None:
        """Stop writing and give up the sockets (after the worker has ended)."""
        self._closed = True
        self._wake.set()
        if self._stream is not None:
            with contextlib.suppress(Exception):
                await self._stream.aclose()
        if self._fds is not None:
            self._fds.close()
        if self.process is not None:
            with contextlib.suppress(Exception):
                await self.process.aclose()
