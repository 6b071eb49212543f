"""The ``#!`` launcher line lind-cc writes before a linked program, so ``./a.out`` runs on the host.

Theory of operation
-------------------
The line names this installation's ``lind-async`` script by absolute path with the argument
``exec`` (``python -m lind_async exec``: ``run --inherit-env`` with the current directory as the
cage's root), so the kernel runs ``./a.out ARGS`` as ``lind-async exec ./a.out ARGS``. When the
script is not installed where this Python's scripts are, the line is
``#!/usr/bin/env -S lind-async exec`` (found on PATH). Loaders skip the line
(:mod:`lind_async.abi.executable`); ``-o NAME.wasm`` or ``--no-launcher`` writes the module alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from lind_async.abi.executable import split_launcher
from lind_async.toolchain.binutils import script_path

MAX_KERNEL_LINE = 250
"""Linux reads at most 256 bytes of a ``#!`` line (127 before 5.1): longer paths go through env."""


def launcher_line() -> bytes:
    script = script_path("lind-async")
    line = f"#!{script} exec\n".encode()
    if not script.startswith("/") or len(line) > MAX_KERNEL_LINE or b" " in line[2:-6]:
        return b"#!/usr/bin/env -S lind-async exec\n"
    return line


def wants_launcher(output: Path, no_launcher: bool) -> bool:
    """A program gets the line unless asked not to or named ``*.wasm``."""
    return not no_launcher and output.suffix != ".wasm"


def add_launcher(output: Path) -> None:
    """Put the launcher line before the module in ``output`` (atomically) and make it
    executable wherever it is readable."""
    _, module = split_launcher(output.read_bytes())
    tmp = output.with_name(f".{output.name}.{os.getpid()}.launcher")
    try:
        tmp.write_bytes(launcher_line() + module)
        mode = output.stat().st_mode & 0o7777
        os.chmod(tmp, mode | (mode & 0o444) >> 2)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
