"""A running cage as the embedder sees it: ``asyncio.subprocess.Process``'s interface.

:class:`ProcessCore` is the runtime-loop side (asyncio only); :class:`CageProcess` is what
``create_cage_exec`` returns, forwarding through the bridge so it works under trio too.

Cancellation: when the task awaiting :meth:`CageProcess.wait` or :meth:`CageProcess.communicate`
is cancelled (``asyncio.wait_for`` timing out, a trio cancel scope…), the cage *and every process
it started* is killed (``SIGKILL``) and reaped before the cancellation propagates, and its pipes are
given up: nothing of it is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING

from lind_async.core.proctable import killed
from lind_async.embed.bridge import Bridge
from lind_async.embed.stdio import Stdio
from lind_async.embed.streams import CageStreamReader, CageStreamWriter

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage


def returncode_of(status: int) -> int:
    """asyncio's convention: the exit code, or ``-N`` when killed by signal ``N``."""
    if status & 0x7F == 0:
        return (status >> 8) & 0xFF
    return -(status & 0x7F)


async def kill_family(top: Cage) -> None:
    """Kill ``top`` and every live process it started and wait until they are gone. Further
    cancellations are held off until that is done, then raised."""
    cancelled = False
    members = [*top.family.members, top]
    for cage in members:
        cage.terminate(killed(signal.SIGKILL))
    for cage in members:
        while not cage.exited.is_set():
            try:
                await asyncio.shield(cage.exited.wait())
            except asyncio.CancelledError:
                cancelled = True
    if cancelled:
        raise asyncio.CancelledError


class ProcessCore:
    """Runtime-loop side of one top-level cage and its host pipe ends."""

    def __init__(self, cage: Cage, stdio: Stdio) -> None:
        self._cage: Cage | None = cage
        self.pid = cage.cage_id
        self.stdio = stdio
        self._status: int | None = None

    @property
    def cage(self) -> Cage:
        if self._cage is None:
            raise RuntimeError(f"cage {self.pid}: its microvisor is closed")
        return self._cage

    @property
    def returncode(self) -> int | None:
        status = self._status if self._cage is None else self._cage.status
        return None if status is None else returncode_of(status)

    def detach(self) -> None:
        """The microvisor closed (the cage has exited): keep the status, drop the cage, so its
        memory and module go now."""
        if self._cage is not None:
            self._status = self._cage.status
            self._cage = None
        self.release()

    async def wait(self) -> int:
        try:
            await self.cage.exited.wait()
        except asyncio.CancelledError:
            await self.kill_all()
            raise
        code = self.returncode
        assert code is not None
        return code

    async def communicate(self, data: bytes | None) -> tuple[bytes | None, bytes | None]:
        try:
            stdin = self._feed(data)
            stdout = self._read(self.stdio.stdout.reader if self.stdio.stdout else None)
            stderr = self._read(self.stdio.stderr.reader if self.stdio.stderr else None)
            _, out, err = await asyncio.gather(stdin, stdout, stderr)
            await self.cage.exited.wait()
        except asyncio.CancelledError:
            await self.kill_all()
            raise
        return out, err

    async def _feed(self, data: bytes | None) -> None:
        source = self.stdio.stdin
        if source is None:
            return
        if data:
            source.write(data)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await source.drain()
        source.close()

    async def _read(self, reader: asyncio.StreamReader | None) -> bytes | None:
        return None if reader is None else await reader.read()

    def send_signal(self, signo: int) -> None:
        if self.returncode is not None:
            raise ProcessLookupError(f"cage {self.cage.cage_id} has exited")
        self.cage.post_signal(int(signo))

    async def kill_all(self) -> None:
        """Kill the cage and every live process it started, wait until they are gone, and give
        up the host's pipe ends. Further cancellations are held off until that is done."""
        try:
            await kill_family(self.cage)
        finally:
            self.release()

    def release(self) -> None:
        for end in (self.stdio.stdin, self.stdio.stdout, self.stdio.stderr):
            if end is not None:
                end.release()


class CageProcess:
    """A cage started by ``create_cage_exec`` (shaped like ``asyncio.subprocess.Process``)."""

    def __init__(self, core: ProcessCore, bridge: Bridge) -> None:
        self._core = core
        self._bridge = bridge
        self.pid: int = core.pid
        """The cage id (its pid inside the microvisor)."""
        self.stdin = CageStreamWriter(core.stdio.stdin, bridge) if core.stdio.stdin else None
        self.stdout = CageStreamReader(core.stdio.stdout, bridge) if core.stdio.stdout else None
        self.stderr = CageStreamReader(core.stdio.stderr, bridge) if core.stdio.stderr else None

    def __repr__(self) -> str:
        return f"<CageProcess {self.pid} returncode={self.returncode}>"

    @property
    def returncode(self) -> int | None:
        """``None`` while running; the exit code, or ``-N`` when killed by signal ``N``."""
        return self._core.returncode

    @property
    def cage(self) -> Cage:
        """The runtime's cage object (use it only on the runtime loop)."""
        return self._core.cage

    async def wait(self) -> int:
        """Wait for the cage to exit; returns :attr:`returncode`. Cancelling the wait kills the
        cage and everything it started."""
        return await self._bridge.run(self._core.wait)

    async def communicate(self, input: bytes | None = None) -> tuple[bytes | None, bytes | None]:
        """Send ``input`` to stdin (then close it), read stdout and stderr to end-of-file, wait
        for the exit; returns ``(stdout, stderr)`` (``None`` for streams that are not ``PIPE``).
        Cancelling it kills the cage and everything it started."""
        return await self._bridge.run(lambda: self._core.communicate(input))

    def send_signal(self, sig: int) -> None:
        """Post signal ``sig`` to the cage (``ProcessLookupError`` if it has exited)."""
        if self.returncode is not None:
            raise ProcessLookupError(f"cage {self.pid} has exited")
        self._bridge.post(lambda: _post_quietly(self._core, sig))

    def terminate(self) -> None:
        """``SIGTERM``."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """``SIGKILL``."""
        self.send_signal(signal.SIGKILL)

    async def kill_all(self) -> None:
        """Kill the cage and every process it started; returns once all are gone."""
        await self._bridge.run(self._core.kill_all)


def _post_quietly(core: ProcessCore, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited while the signal was on its way
        core.send_signal(sig)
