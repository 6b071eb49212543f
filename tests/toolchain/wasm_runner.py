"""Run a compiled cage program as the CLI (`lind_async run`) does, capturing its output: in this
process on the session's shared engine (``tests/e2e/inprocess.py``), else as a real process."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.e2e import inprocess


@dataclass
class Result:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""


def run(path: Path, argv: list[str], env: list[str] | None = None) -> Result:
    """Run ``path`` with ``argv[1:]`` as arguments (argv[0] is the program path) and ``env``."""
    args = ["--root", str(path.parent)]
    for pair in env or []:
        args += ["--env", pair]
    args += [str(path), *argv[1:]]
    if not inprocess.forced_process():
        outcome = inprocess.run(args, stdin=None, timeout=120)
        if outcome is not None:
            return Result(outcome.status, outcome.stdout, outcome.stderr)
    proc = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", *args],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
