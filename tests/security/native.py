"""Build ``programs/NAME.c`` natively with gcc and run it as the e2e suite runs native programs,
for the hostile tests that compare a cage's behaviour with Linux's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Result, run_native
from tests.security.conftest import PROGRAMS

__all__ = ["build_native", "run_native"]


def build_native(name: str, out_dir: Path) -> Path:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("a native C compiler (gcc) is required for the comparison tests")
    exe = out_dir / name
    if not exe.exists():
        source = PROGRAMS / f"{name}.c"
        subprocess.run([gcc, "-O1", "-w", "-o", str(exe), str(source)], check=True)
    return exe


def native_result(name: str, args: list[str], out_dir: Path, root: Path) -> Result:
    return run_native(build_native(name, out_dir), args, root=root)
