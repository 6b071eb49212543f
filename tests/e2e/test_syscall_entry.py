"""``lind.syscall``'s two trampolines (runtime/syscall_entry.py): the C one (the default when it
builds) and the pure-Python fallback (``LIND_ASYNC_PYTHON_ENTRY=1``) give the same answers, each
checked against the program built natively. Each runs as its own ``python -m lind_async run``
process, since the trampoline is chosen when the runtime is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, run_native

# Results, errors (EFAULT for a bad or NULL pointer, EBADF, ENOSYS), reads and writes of files,
# signals delivered on a call's return, a crash: both trampolines, compared with native.
PROGRAMS = [("badinput", []), ("files", []), ("signals", []), ("crash", ["trap"])]


@pytest.mark.parametrize("entry", ["native", "python"])
@pytest.mark.parametrize(("name", "args"), PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_both_trampolines_match_native(
    entry: str, name: str, args: list[str], tmp_path: Path, cage_program: Any,
    native_program: Any,
) -> None:
    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    native_root.mkdir()
    cage_root.mkdir()
    expected = run_native(native_program(name), args, root=native_root)
    env = {k: v for k, v in os.environ.items() if k != "LIND_ASYNC_PYTHON_ENTRY"}
    if entry == "python":
        env["LIND_ASYNC_PYTHON_ENTRY"] = "1"
    got = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(cage_root),
         str(cage_program(name)), *args],
        capture_output=True, timeout=120, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
    )
    status = 128 - got.returncode if got.returncode < 0 else got.returncode
    assert (status, got.stdout) == (expected.status, expected.stdout), got.stderr
    assert b"Traceback" not in got.stderr


@pytest.mark.parametrize("entry", ["native", "python"])
def test_the_trampoline_in_use(entry: str) -> None:
    """The C trampoline is what a cage gets here (zig builds it), and the variable selects
    Python's."""
    env = {k: v for k, v in os.environ.items() if k != "LIND_ASYNC_PYTHON_ENTRY"}
    if entry == "python":
        env["LIND_ASYNC_PYTHON_ENTRY"] = "1"
    probe = ("from lind_async.runtime import syscall_entry as e, world; "
             "e.trampoline(world.default_cache_dir()); print(e.native())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, cwd=REPO, check=True).stdout.strip()
    assert out == ("True" if entry == "native" else "False")
