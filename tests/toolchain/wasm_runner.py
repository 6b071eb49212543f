"""Run a compiled cage program through the real CLI (`lind_async run`), capturing its output."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""


def run(path: Path, argv: list[str], env: list[str] | None = None) -> Result:
    """Run ``path`` with ``argv[1:]`` as arguments (argv[0] is the program path) and ``env``."""
    cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(path.parent)]
    for pair in env or []:
        cmd += ["--env", pair]
    proc = subprocess.run(
        [*cmd, str(path), *argv[1:]], capture_output=True, timeout=120, stdin=subprocess.DEVNULL
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
