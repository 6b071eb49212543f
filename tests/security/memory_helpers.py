"""Helpers of the memory attack tests: a neighbour cage in the attacker's microvisor, and a log
collector that makes a microvisor-side report (an "internal error") fail the test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lind_async


class Neighbour:
    """programs/mem_neighbour.c in the same microvisor: answers each line with ``ok: LINE``."""

    def __init__(self, proc: lind_async.CageProcess) -> None:
        self.proc = proc
        self.lines = 0

    @classmethod
    async def start(cls, mv: lind_async.Microvisor, wasm: Path) -> Neighbour:
        proc = await mv.create_cage_exec(wasm, stdin=lind_async.PIPE, stdout=lind_async.PIPE)
        neighbour = cls(proc)
        await neighbour.check()
        return neighbour

    async def check(self) -> None:
        """The neighbour still answers (its memory and its loop are intact)."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        self.lines += 1
        stdin.write(b"line %d\n" % self.lines)
        await stdin.drain()
        assert await stdout.readline() == b"ok: line %d\n" % self.lines
        assert self.proc.returncode is None

    async def finish(self) -> None:
        """A last check, then end of input: it must exit 0."""
        await self.check()
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert await self.proc.wait() == 0


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@contextmanager
def microvisor_log() -> Iterator[list[str]]:
    """What the runtime logged at warning level or above while the block ran."""
    handler = _Collect()
    logger = logging.getLogger("lind_async")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
