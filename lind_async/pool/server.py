"""The worker side of the pool: runs the cages a pool asks for on one microvisor.

Theory of operation
-------------------
A :class:`CageServer` sits on one :class:`lind_async.Microvisor` on the worker's asyncio loop
and is fed the pool's frames (``wire.py``) in order by its transport: the local worker's unix
socket (``worker.py``) or the Ray actor's method calls (``ray_backend.py``). It answers through
``send(frame)``, which must queue and never block.

Each channel is one cage started with the embedding API, so everything the microvisor does (its
family stays in this worker, limits, grates, cancellation) is unchanged. Frames of a channel
that arrive before its cage is running (stdin right behind the spawn) wait: stdin goes through a
queue one task writes into the cage's pipe in order (acknowledging each piece once the pipe took
it), and signals, credits and kills are replayed once the cage runs. A pump task per piped
output stream reads the cage's stdout/stderr and sends it, never more than the pool's credit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lind_async.embed import DEVNULL, PIPE, STDOUT, CageProcess, CageStreamReader, Microvisor
from lind_async.embed.stdio import HostStdio, StdioSpec
from lind_async.pool import wire

CHUNK = 1 << 16
KEEP_EXITED = 4096  # exited cages whose families a late kill_all may still reach


@dataclass
class SpawnRequest:
    """What ``Pool.create_cage_exec`` asks of a worker (pickled: pool -> worker only)."""

    program: str | bytes
    args: tuple[str | bytes, ...]
    stdio: tuple[Any, Any, Any]  # "pipe" | "devnull" | "stdout" | None | ("fd", i, metadata)
    nfds: int
    env: Any
    cwd: Any
    grates: tuple[Any, ...]
    limits: Any
    root: str | None
    argv0: str | bytes | None
    limit: int


@dataclass
class _Stream:
    credit: int
    more: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class _Channel:
    def __init__(self) -> None:
        self.proc: CageProcess | None = None
        self.pending: list[tuple[int, bytes]] = []  # control frames before the cage runs
        self.stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.streams: dict[int, _Stream] = {}
        self.tasks: set[asyncio.Task[None]] = set()


class CageServer:
    """Serves one pool connection on ``mv``. ``take_fds(n)`` hands over the next ``n`` host
    fds the pool passed with its spawn requests (local workers only)."""

    def __init__(
        self,
        mv: Microvisor,
        send: Callable[[bytes], None],
        take_fds: Callable[[int], list[int]] | None = None,
        modules_dir: Path | None = None,
    ) -> None:
        self.mv = mv
        self.send = send
        self.take_fds = take_fds
        self.modules_dir = modules_dir
        self.channels: dict[int, _Channel] = {}
        self.exited: OrderedDict[int, _Channel] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()

    def _start(self, coro: Any, owner: set[asyncio.Task[None]] | None = None) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        for group in (self.tasks, owner) if owner is not None else (self.tasks,):
            group.add(task)
            task.add_done_callback(group.discard)

    def handle(self, kind: int, channel: int, payload: bytes) -> None:
        """One frame from the pool, in order."""
        if kind in (wire.SPAWN, wire.LOAD):
            try:  # e.g. a grate whose class this process cannot import
                request = pickle.loads(payload)
            except Exception as exc:
                fds = self.take_fds(_count_fds(payload)) if self.take_fds else []
                for fd in fds:
                    os.close(fd)
                self.send(_error(channel, exc))
                return
            if kind == wire.LOAD:
                self._start(self._load(channel, request))
                return
            fds = self.take_fds(request.nfds) if self.take_fds and request.nfds else []
            chan = self.channels[channel] = _Channel()
            self._start(self._spawn(channel, chan, request, fds))
            return
        found = self.channels.get(channel) or self.exited.get(channel)
        if found is None:  # gone long ago (the pool may still send it a credit)
            if kind == wire.KILL_ALL:
                self.send(wire.frame(wire.KILLED, channel))
            return
        chan = found
        if kind == wire.STDIN:
            chan.stdin.put_nowait(payload)
        elif kind == wire.STDIN_EOF:
            chan.stdin.put_nowait(None)
        elif chan.proc is None:
            chan.pending.append((kind, payload))
        else:
            self._control(channel, chan, chan.proc, kind, payload)

    def _control(
        self, channel: int, chan: _Channel, proc: CageProcess, kind: int, payload: bytes
    ) -> None:
        if kind == wire.CREDIT:
            stream_no, n = wire.CREDIT_MSG.unpack(payload)
            stream = chan.streams.get(stream_no)
            if stream is not None:
                stream.credit += n
                stream.more.set()
        elif kind == wire.CLOSE_READ:
            stream = chan.streams.pop(payload[0], None)
            reader = proc.stdout if payload[0] == wire.STDOUT else proc.stderr
            if stream is not None and stream.task is not None:
                stream.task.cancel()
            if reader is not None:
                reader.close()
        elif kind == wire.SIGNAL:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(wire.INT.unpack(payload)[0])
        elif kind == wire.KILL_ALL:
            self._start(self._kill_all(channel, proc), chan.tasks)

    async def _spawn(
        self, channel: int, chan: _Channel, request: SpawnRequest, fds: list[int]
    ) -> None:
        try:
            proc = await self.mv.create_cage_exec(
                self._program(request.program),
                *request.args,
                stdin=_spec(request.stdio[0], fds),
                stdout=_spec(request.stdio[1], fds),
                stderr=_spec(request.stdio[2], fds),
                env=request.env,
                cwd=request.cwd,
                grates=request.grates,
                limits=request.limits,
                root=request.root,
                argv0=request.argv0,
                limit=request.limit,
            )
        except Exception as exc:
            self.channels.pop(channel, None)
            self.send(_error(channel, exc))
            return
        finally:
            for fd in fds:  # the microvisor made its own copies
                os.close(fd)
        chan.proc = proc
        self.send(wire.int_frame(wire.SPAWNED, channel, proc.pid))
        window = 2 * request.limit
        for stream_no, reader in ((wire.STDOUT, proc.stdout), (wire.STDERR, proc.stderr)):
            if reader is not None:
                stream = chan.streams[stream_no] = _Stream(window)
                task = asyncio.get_running_loop().create_task(
                    self._pump(channel, stream_no, stream, reader)
                )
                stream.task = task
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        if proc.stdin is not None:
            self._start(self._feed(channel, chan, proc), chan.tasks)
        self._start(self._exit(channel, chan, proc), chan.tasks)
        for kind, payload in chan.pending:
            self._control(channel, chan, proc, kind, payload)
        chan.pending.clear()

    def _program(self, program: str | bytes | tuple[str, str]) -> str | bytes:
        if isinstance(program, tuple):  # ("sha256", "HEX.wasm"): a module sent by hash
            if self.modules_dir is None:
                raise ValueError("this worker takes no modules by hash")
            name = program[1]
            if "/" in name or name.startswith("."):
                raise ValueError(f"bad module name {name!r}")
            return os.fspath(self.modules_dir / name)
        return program

    async def _pump(
        self, channel: int, stream_no: int, stream: _Stream, reader: CageStreamReader
    ) -> None:
        while True:
            while stream.credit <= 0:
                stream.more.clear()
                await stream.more.wait()
            data = await reader.read(min(stream.credit, CHUNK))
            if not data:
                self.send(wire.frame(wire.OUTPUT_EOF, channel, bytes((stream_no,))))
                return
            stream.credit -= len(data)
            self.send(wire.frame(wire.OUTPUT, channel, bytes((stream_no,)) + data))

    async def _feed(self, channel: int, chan: _Channel, proc: CageProcess) -> None:
        writer = proc.stdin
        assert writer is not None
        broken = False
        while True:
            data = await chan.stdin.get()
            if data is None:
                writer.close()
                return
            if not broken:
                writer.write(data)
                try:
                    await writer.drain()
                except (BrokenPipeError, ConnectionResetError):
                    broken = True
                    self.send(wire.frame(wire.STDIN_BROKEN, channel))
            self.send(wire.frame(wire.ACK, channel, wire.UINT.pack(len(data))))

    async def _exit(self, channel: int, chan: _Channel, proc: CageProcess) -> None:
        code = await proc.wait()
        cage = proc.cage
        alone = not any(m is not cage and not m.exited.is_set() for m in cage.family.members)
        self.send(wire.frame(wire.EXIT, channel, wire.EXIT_MSG.pack(code, alone)))
        await asyncio.gather(
            *(s.task for s in chan.streams.values() if s.task is not None),
            return_exceptions=True,
        )
        # Kept a while: the pool may still kill what the cage left running (kill_all).
        self.exited[channel] = self.channels.pop(channel, chan)
        while len(self.exited) > KEEP_EXITED:
            self.exited.popitem(last=False)

    async def _kill_all(self, channel: int, proc: CageProcess) -> None:
        await proc.kill_all()
        self.send(wire.frame(wire.KILLED, channel))

    async def _load(self, channel: int, program: str | bytes | tuple[str, str]) -> None:
        try:
            await self.mv.load(self._program(program))
        except Exception as exc:
            self.send(_error(channel, exc))
            return
        self.send(wire.frame(wire.DONE, channel))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _count_fds(payload: bytes) -> int:
    """How many fds came with a spawn request that cannot be unpickled (the pool writes the
    count at the end of the payload too, so the fds are not left for the next spawn)."""
    return payload[-1] if payload else 0


def _spec(spec: Any, fds: list[int]) -> StdioSpec:
    if spec is None:
        return None
    if spec == "pipe":
        return PIPE
    if spec == "devnull":
        return DEVNULL
    if spec == "stdout":
        return STDOUT
    _, index, metadata = spec
    return HostStdio(fds[index], metadata=metadata)


def _error(channel: int, exc: BaseException) -> bytes:
    return wire.json_frame(
        wire.ERROR, channel, {"type": type(exc).__name__, "message": str(exc)[:1000]}
    )
