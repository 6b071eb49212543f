"""The default microvisor closes itself when the loop shuts down: ``asyncio.run``, ``uvloop.run``
and ``trio.run`` return promptly, with nothing on stderr, after a program that used the
module-level ``lind_async.create_cage_exec`` and closed nothing.

Each case runs ``default_shutdown_main.py`` in fresh interpreters, many times (a shutdown race
shows only sometimes: ``trio.run`` used to hang in most runs), several at once to keep it fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.embed.conftest import Build

MAIN = Path(__file__).parent / "default_shutdown_main.py"
REPO = Path(__file__).parents[2]
LOOPS = ["asyncio", "uvloop", "trio"]
TIMEOUT = 60.0  # a hang; a healthy run takes well under a second


def run_many(loop: str, mode: str, program: Path, cwd: Path, times: int) -> list[str]:
    """Run the script ``times`` times (4 at once); returns the stdout of each, after checking
    each exited 0 with an empty stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-W", "default", str(MAIN), loop, mode, str(program)]

    def once(_: int) -> str:
        try:
            done = subprocess.run(
                command, cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{loop} {mode}: did not exit within {TIMEOUT} s")
        assert (done.returncode, done.stderr.decode()) == (0, ""), done.stdout.decode()
        return done.stdout.decode()

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(once, range(times)))


CLOSED = "left= 0\nruntime_thread= False\n"


@pytest.mark.parametrize("loop", LOOPS)
def test_communicate_then_return(loop: str, program: Build, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("from the root\n")
    outputs = run_many(loop, "communicate", program("env_cwd"), tmp_path, 10)
    expected = (
        "GREETING=(unset)\nHOME=(unset)\ncwd=/\ndata.txt: from the root\nreturncode 0\n" + CLOSED
    )
    assert outputs == [expected] * 10


@pytest.mark.parametrize("loop", LOOPS)
def test_cages_still_running_are_killed(loop: str, program: Build, tmp_path: Path) -> None:
    outputs = run_many(loop, "running", program("waiter"), tmp_path, 6)
    assert outputs == ["child started\nready\n" + CLOSED] * 6


@pytest.mark.parametrize("loop", LOOPS)
def test_wait_in_a_cancelled_scope_kills(loop: str, program: Build, tmp_path: Path) -> None:
    outputs = run_many(loop, "cancelled", program("waiter"), tmp_path, 3)
    assert outputs == ["killed\n" * 5 + CLOSED] * 3
