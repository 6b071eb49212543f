"""``rt_sigprocmask`` answered by the C trampoline (``native/syscall_signals.c``): the same
answers as the program built natively and as Python's path, and never for a cage a grate
interposes on (the strace grate still sees every call)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, run_native


@pytest.mark.parametrize("mode", ["c", "python-path", "python-entry"])
def test_masks_match_native(mode: str, tmp_path: Path, cage_program: Any,
                            native_program: Any) -> None:
    """Block, unblock, set, the old set over the new one, SIGKILL/SIGSTOP, EINVAL and EFAULT,
    a blocked signal delivered when unblocked, sigsuspend, fork, a thread's own mask."""
    expected = run_native(native_program("sigmask_fast"), [], root=tmp_path)
    env = {k: v for k, v in os.environ.items()
           if k not in ("LIND_ASYNC_PYTHON_ENTRY", "LIND_ASYNC_FASTMASK")}
    if mode == "python-path":
        env["LIND_ASYNC_FASTMASK"] = "0"
    elif mode == "python-entry":
        env["LIND_ASYNC_PYTHON_ENTRY"] = "1"
    got = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(tmp_path),
         str(cage_program("sigmask_fast"))],
        capture_output=True, timeout=120, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
    )
    assert (got.returncode, got.stdout) == (expected.status, expected.stdout), got.stderr
    assert b"after unblock got 10" in got.stdout and b"Traceback" not in got.stderr


def test_served_in_c_and_grates_still_see_them(tmp_path: Path, cage_program: Any,
                                               native_program: Any) -> None:
    """In this process: most of the program's mask changes are answered in C (none once a
    signal is pending or a thread exists), and none of a cage under the strace grate."""
    from lind_async.runtime import syscall_entry
    from tests.e2e.conftest import run_cage

    expected = run_native(native_program("sigmask_fast"), [], root=tmp_path)
    before = syscall_entry.fast_masks()
    plain = run_cage(cage_program("sigmask_fast"), [], root=tmp_path)
    assert (plain.status, plain.stdout) == (expected.status, expected.stdout), plain.stderr
    served = syscall_entry.fast_masks() - before
    if syscall_entry.native():
        assert served >= 15
    else:
        assert served == 0
    before = syscall_entry.fast_masks()
    traced = run_cage(cage_program("sigmask_fast"), [], root=tmp_path, extra=["--grate", "strace"])
    assert (traced.status, traced.stdout) == (expected.status, expected.stdout), traced.stderr
    assert syscall_entry.fast_masks() == before
    assert traced.stderr.decode().count("rt_sigprocmask(") >= 20
