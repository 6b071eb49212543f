"""``Microvisor.run``: a cage run to its end with its output captured, as ``subprocess.run``.

Theory of operation
-------------------
A service that runs a program per request (``examples/http_service.py``) wants one thing: the
input in, the output and the exit status out, a deadline, and nothing of the cage left after.
``create_cage_exec`` + ``communicate`` gives that through the general machinery (a
:class:`~lind_async.embed.process.CageProcess`, its stream objects, a ``StreamReader`` fed by a
pump, a hop through the bridge per call, an ``asyncio.timeout`` task cancellation). :func:`run`
does it as one coroutine on the runtime loop with less of each:

- **stdin**: an input that fits in the pipe (64 KiB) is put in the pipe's buffer before the cage
  starts and the host's write end is released at once: the cage reads it and then end-of-file,
  and the host side has no object left. A larger input goes through a
  :class:`~lind_async.embed.pipes.PipeSource` (written as the cage reads).
- **stdout**: a :class:`Capture`, the host's read end of the pipe. Its watcher does nothing while
  the bytes fit: they stay in the pipe's buffer. It moves them out (on the loop, ``call_soon``)
  only when the pipe has less than ``PIPE_BUF`` of room, so a writer never waits long, and it
  ends the wait at end-of-file (no writer left). ``max_output``: past that many bytes the run
  ends (:class:`OutputTooLarge`).
- **the deadline** ends the same wait (``TimeoutError``); no task is cancelled. Runs share one
  timer per :data:`SLOT` (50 ms) of deadlines (:class:`Deadlines`), so a run ends up to 50 ms
  after its ``timeout``.
- **the end**: when the output ends the cage may still be running (it closed its stdout) and
  what it started may be too: the cage is waited for, then the family still alive (anything
  when the run failed) is killed and reaped (``process.kill_family``). A cancelled caller gets
  the same before the cancellation goes on.

Semantics match ``create_cage_exec(..., stdin=PIPE, stdout=PIPE)`` + ``communicate(input)``
followed by ``kill_all()``: the same cage, the same pipes (an in-process pipe on fds 0 and 1),
the same end-of-file rules.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lind_async.abi.flags import O_WRONLY
from lind_async.core.pipe import DEFAULT_CAPACITY, PIPE_BUF
from lind_async.embed import stdio as stdio_mod
from lind_async.embed.pipes import READ_LIMIT, PipeSource
from lind_async.embed.process import kill_family, returncode_of
from lind_async.rawposix.devices import NullDevice
from lind_async.rawposix.files import FileOps
from lind_async.rawposix.pipe import PipeEnd, new_pipe
from lind_async.rawposix.readiness import RoomWake

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage


SLOT = 0.05  # seconds: deadlines are kept to this grain (one timer per slot)


class OutputTooLarge(Exception):
    """The cage wrote more than ``max_output`` bytes to its stdout (it has been killed)."""


@dataclass(frozen=True, slots=True)
class CompletedCage:
    """What :meth:`Microvisor.run` returns: ``returncode`` as ``CageProcess.returncode`` (the exit
    code, or ``-N`` when killed by signal ``N``) and everything the cage wrote to its stdout."""

    returncode: int
    stdout: bytes


class Capture:
    """The host's read end of a cage's stdout pipe, collecting the bytes (see the module doc)."""

    __slots__ = ("_cancel_watch", "_scheduled", "cage_end", "chunks", "done", "failed", "host_end",
                 "loop", "max_output", "size")

    def __init__(self, max_output: int | None) -> None:
        self.host_end, self.cage_end = new_pipe()
        self.loop = asyncio.get_running_loop()
        self.max_output = max_output
        self.chunks: list[bytes] = []
        self.size = 0
        self.failed = False
        self._scheduled = False
        # Resolved at end-of-file; an exception ends the run early (too much output, deadline).
        self.done: asyncio.Future[None] = self.loop.create_future()
        self._cancel_watch = self.host_end.pipe.can_read.watchers.add(
            RoomWake(self._wake, PIPE_BUF))

    def _wake(self) -> None:
        # Runs inside the cage's write or close (on its fiber): look, and at most schedule.
        # With a writer left and PIPE_BUF of room it does nothing (RoomWake's contract: the C
        # trampoline's pipe writes do not call it then).
        buffer = self.host_end.pipe.buffer
        if buffer.writers == 0:
            if not self.done.done():
                self.done.set_result(None)
        elif buffer.capacity - len(buffer) < PIPE_BUF and not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._scheduled = False
        if self.host_end is not None and self.take():
            self.host_end.pipe.can_write.wake_all()  # writers waiting for room

    def take(self) -> bool:
        """Move what the pipe holds into :attr:`chunks`; whether anything moved."""
        buffer = self.host_end.pipe.buffer
        n = len(buffer)
        if not n or self.failed:
            return False
        chunk = bytearray(n)
        buffer.read_into(memoryview(chunk))
        self.size += n
        if self.max_output is not None and self.size > self.max_output:
            self.fail(OutputTooLarge(f"more than {self.max_output} bytes of output"))
            return False
        self.chunks.append(bytes(chunk))
        return True

    def fail(self, exc: BaseException) -> None:
        """End the run early with ``exc`` (unless it has ended)."""
        if not self.done.done():
            self.failed = True
            self.done.set_exception(exc)

    def output(self) -> bytes:
        data = self.host_end.pipe.buffer.data
        if not self.chunks and not self.failed and (
                self.max_output is None or len(data) <= self.max_output):
            out = bytes(data)  # (all of it still in the pipe, the common case: one copy)
            del data[:]
            self.size = len(out)
            return out
        self.take()
        chunks = self.chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def release(self) -> None:
        """Give up the host's end (idempotent): cage writers then get ``EPIPE``."""
        if self.host_end is not None:
            self._cancel_watch()
            self.host_end.release()
            self.host_end = None  # type: ignore[assignment]
        if not self.done.done():
            self.done.cancel()
        elif not self.done.cancelled():
            self.done.exception()  # (retrieved: no "never retrieved" warning)


def stdin_with(data: bytes) -> tuple[PipeEnd, PipeSource | None]:
    """The cage's stdin holding ``data`` then end-of-file: a pipe filled now when it fits, else
    a :class:`PipeSource` that feeds it as the cage reads (returned, to be released after)."""
    if len(data) <= DEFAULT_CAPACITY:
        read_end, write_end = new_pipe()
        if data:
            read_end.pipe.buffer.write(data)  # (it fits: all of it goes in)
        write_end.release()  # no writer left: the cage reads the bytes, then end-of-file
        return read_end, None
    source = PipeSource()
    source.write(data)
    source.close()
    return source.cage_end, source


def stderr_file(spec: stdio_mod.StdioSpec, stdout: FileOps) -> FileOps | None:
    """fd 2 for :func:`run`: ``STDOUT`` (into the capture), or what ``create_cage_exec`` takes
    but ``PIPE`` (not captured by ``run``)."""
    if spec == stdio_mod.DEVNULL:
        return NullDevice(O_WRONLY)
    if spec == stdio_mod.STDOUT:
        return stdout
    if spec == stdio_mod.PIPE:
        raise ValueError("stderr: run() captures stdout only (use STDOUT, DEVNULL, None or a "
                         "host fd; or create_cage_exec)")
    return stdio_mod.one(stdio_mod.Stdio(), spec, O_WRONLY, "stderr", READ_LIMIT)


class Deadlines:
    """The deadlines of a loop's runs, on one timer per :data:`SLOT` of time rather than one per
    run (a ``call_later`` and its ``cancel`` per run cost more than the rest of the deadline
    handling): a run ends between its ``timeout`` and ``SLOT`` seconds later."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._slots: dict[int, set[Capture]] = {}

    def add(self, capture: Capture, timeout: float) -> int:
        slot = math.ceil((self.loop.time() + timeout) / SLOT)
        members = self._slots.get(slot)
        if members is None:
            members = self._slots[slot] = set()
            self.loop.call_at(slot * SLOT, self._expire, slot, timeout)
        members.add(capture)
        return slot

    def discard(self, slot: int, capture: Capture) -> None:
        """``capture``'s run ended: forget it (its slot's timer finds one less)."""
        members = self._slots.get(slot)
        if members is not None:
            members.discard(capture)

    def _expire(self, slot: int, timeout: float) -> None:
        for capture in self._slots.pop(slot, ()):
            capture.fail(TimeoutError(f"the cage ran longer than {timeout:g}s"))


async def finish(cage: Cage, capture: Capture, timeout: float | None,
                 deadlines: Deadlines) -> CompletedCage:
    """Wait for the output's end and the cage's exit (at most ``timeout`` seconds), kill and reap
    whatever of its family is left; raises ``TimeoutError`` or :class:`OutputTooLarge` (after the
    killing) when the run ended early."""
    loop = capture.loop
    start = loop.time()
    slot = None if timeout is None else deadlines.add(capture, timeout)
    try:
        await capture.done
        if cage.status is None:  # it closed its stdout and runs on (rare): its own deadline
            left = None if timeout is None else start + timeout - loop.time()
            try:
                async with asyncio.timeout(left):
                    await cage.exited.wait()
            except TimeoutError:
                raise TimeoutError(f"the cage ran longer than {timeout:g}s") from None
    except BaseException:
        await kill_family(cage)
        raise
    finally:
        if slot is not None:
            deadlines.discard(slot, capture)
    if cage.family.members:  # what it started and left running
        await kill_family(cage)
    assert cage.status is not None
    return CompletedCage(returncode_of(cage.status), capture.output())
