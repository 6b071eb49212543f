"""``create_cage_exec(..., limit=N)``: asyncio's stream buffer limit, with asyncio's meaning.

Each test runs the same C program natively under ``asyncio.create_subprocess_exec(...,
limit=N)`` and in a cage under ``create_cage_exec(..., limit=N)`` (on asyncio, uvloop and trio),
and requires the same behaviour from the streams: what ``readline``/``readuntil`` return or raise
around the limit, and when reading pauses (the writer then waits).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import anyio
import pytest

import lind_async
from tests.embed.conftest import PROGRAMS, Build, Runner

LIMIT = 16
LINES = ["10", "40", "20", "16", "17", "18", "5"]  # line lengths, '\n' included


class Reader(Protocol):
    async def readline(self) -> bytes: ...
    async def readuntil(self, separator: bytes = b"\n") -> bytes: ...
    async def read(self, n: int = -1) -> bytes: ...


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("a native C compiler (gcc) is required for the comparison tests")
    out = tmp_path_factory.mktemp("native")

    def build(name: str) -> Path:
        exe = out / name
        if not exe.exists():
            subprocess.run([gcc, "-O1", "-o", str(exe), str(PROGRAMS / f"{name}.c")], check=True)
        return exe

    return build


async def transcript(stream: Reader) -> list[str]:
    """Read the ``lines`` program's output one way after another; what each step gave."""
    steps: list[str] = []
    for op in ["readline", "readline", "readuntil", "readline", *["readline"] * 4, "read"]:
        try:
            if op == "readline":
                data = await stream.readline()
            elif op == "readuntil":
                data = await stream.readuntil(b"\n")
            else:
                data = await stream.read()
        except asyncio.LimitOverrunError as err:
            steps.append(f"{op}: LimitOverrunError({err}, consumed={err.consumed})")
        except ValueError as err:
            steps.append(f"{op}: ValueError({err})")
        else:
            steps.append(f"{op}: {data!r}")
    return steps


async def native_transcript(exe: Path) -> list[str]:
    proc = await asyncio.create_subprocess_exec(
        exe, *LINES, stdout=asyncio.subprocess.PIPE, limit=LIMIT
    )
    assert proc.stdout is not None
    steps = await transcript(proc.stdout)
    await proc.wait()
    return steps


def test_lines_beyond_the_limit_as_asyncio(
    run: Runner, program: Build, native: Callable[[str], Path], root: Path
) -> None:
    expected = asyncio.run(native_transcript(native("lines")))
    assert any("ValueError" in step for step in expected)  # the limit is really crossed
    assert any("LimitOverrunError" in step for step in expected)

    async def main() -> list[str]:
        async with lind_async.Microvisor(root=root) as mv:
            proc = await mv.create_cage_exec(
                program("lines"), *LINES, stdout=lind_async.PIPE, limit=LIMIT
            )
            assert proc.stdout is not None
            steps = await transcript(proc.stdout)
            assert await proc.wait() == 0
            return steps

    assert run(main) == expected


async def stalls(stdout: Reader, stderr: Reader, *, patience: float) -> tuple[bool, int]:
    """With stdout unread, does the ``flood`` program's "done" on stderr fail to come within
    ``patience`` seconds? Then read everything: (stalled, bytes on stdout)."""
    done = b""
    with anyio.move_on_after(patience):
        done = await stderr.readline()
    stalled = done == b""
    total = len(await stdout.read())
    if stalled:
        done = await stderr.readline()
    assert done == b"done\n"
    return stalled, total


async def native_stalls(exe: Path, kib: int, limit: int, patience: float) -> tuple[bool, int]:
    proc = await asyncio.create_subprocess_exec(
        exe, str(kib), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        limit=limit,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    result = await stalls(proc.stdout, proc.stderr, patience=patience)
    await proc.wait()
    return result


# (limit, KiB written, patience): 1 MiB is far more than a pipe and 2*1 KiB hold (asyncio's
# reader sometimes takes a few chunks more than twice the limit before it pauses, so a margin
# of a few pipes' worth is not enough); 160 KiB is less than a pipe and 2*64 KiB.
FLOODS = [(1024, 1024, 1.0), (1 << 16, 160, 60.0)]


@pytest.mark.parametrize(("limit", "kib", "patience"), FLOODS)
def test_reading_pauses_at_twice_the_limit_as_asyncio(
    run: Runner,
    program: Build,
    native: Callable[[str], Path],
    root: Path,
    limit: int,
    kib: int,
    patience: float,
) -> None:
    """A small limit makes the writer wait while the host does not read (the reader holds at most
    about twice the limit); asyncio's default limit lets the whole output in."""
    expected = asyncio.run(native_stalls(native("flood"), kib, limit, patience))
    assert expected == (limit == 1024, kib * 1024)

    async def main() -> tuple[bool, int]:
        async with lind_async.Microvisor(root=root) as mv:
            proc = await mv.create_cage_exec(
                program("flood"), str(kib), stdout=lind_async.PIPE,
                stderr=lind_async.PIPE, limit=limit,
            )  # fmt: skip
            assert proc.stdout is not None and proc.stderr is not None
            result = await stalls(proc.stdout, proc.stderr, patience=patience)
            assert await proc.wait() == 0
            return result

    assert run(main) == expected


def test_the_default_and_a_bad_limit(run: Runner, program: Build, root: Path) -> None:
    async def main() -> Any:
        async with lind_async.Microvisor(root=root) as mv:
            with pytest.raises(ValueError, match="Limit cannot be <= 0"):
                await mv.create_cage_exec(program("lines"), "5", stdout=lind_async.PIPE, limit=0)
            assert mv.running() == []
            # the module-level function takes it too
            proc = await lind_async.create_cage_exec(
                program("lines"), "30", stdout=lind_async.PIPE, limit=20, root=root
            )
            assert proc.stdout is not None
            with pytest.raises(ValueError):
                await proc.stdout.readline()
            await proc.wait()
            await (await lind_async.default_microvisor()).aclose()

    run(main)
