"""examples/long_lived.py: one cage answers every request, keeping its state between them."""

from __future__ import annotations

import subprocess
import sys

from tests.examples.conftest import REPO


def test_long_lived_example() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "long_lived.py"), "50"],
        capture_output=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert lines[0].startswith("50 clients each set and got a key in cage ")
    assert lines[1:] == [
        "get key7 -> value 49",
        "get nope -> missing",
        "requests answered by the one process: 103",
        "exit status 0",
    ]
