"""examples/embed_echo.py runs as documented on every backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", "trio"])
def test_embed_echo_example(loop: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "embed_echo.py"), loop],
        capture_output=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "cage 1 answered 'HELLO FROM THE HOST\\n', exit status 0"
    assert lines[1] == "ten cages: " + str([f"CAGE {i}" for i in range(10)])
    assert lines[2] == "a cage that spins with a 0.2 s CPU limit ended with -24"
    assert b"Traceback" not in proc.stderr
