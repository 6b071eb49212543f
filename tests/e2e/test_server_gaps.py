"""Runtime gaps real servers hit (nginx, postgres-style daemons), compared with the same C
programs built natively by gcc: credentials and who may signal whom, /proc/self/exe, /proc
metrics files, sysinfo/prctl, gettimeofday's timezone, SIGIO."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import MatchesNative, run_cage


@pytest.mark.parametrize("stack", ["plain", "c-passthrough"])
def test_credentials_and_kill_permission(stack: str, matches_native: MatchesNative) -> None:
    """setuid/setgid/setgroups/initgroups/set[res|re|fs]uid as root and after dropping
    privileges, siblings signalling each other, EPERM towards root, fork and exec keeping ids."""
    matches_native("srv_creds", stack, quiet=True)


def test_proc_metrics_sysinfo_prctl_timezone_exe(matches_native: MatchesNative) -> None:
    """/proc/self/{stat,status,cmdline,comm}, /proc/meminfo and /proc/sys files (formats and
    relations), sysinfo, prctl's name and dumpable flag, gettimeofday's struct timezone,
    readlink and execve of /proc/self/exe."""
    matches_native("srv_procinfo", "plain", args=["arg1"], quiet=True)


def test_proc_self_exe_is_never_a_host_path(cage_program: Any, root: Path) -> None:
    """The embedder names the program by its host path: readlink says where it is inside the
    root (relative to the root when it is in it, else ``/`` and its file name)."""
    wasm = cage_program("srv_procinfo")
    outside = run_cage(wasm, ["exe"], root=root)
    assert outside.stdout == b"/" + wasm.name.encode() + b"\n", outside.stderr
    (root / "bin").mkdir()
    shutil.copyfile(wasm, root / "bin" / "server")
    (root / "bin" / "server").chmod(0o755)
    inside = run_cage(root / "bin" / "server", ["exe"], root=root)
    assert inside.stdout == b"/bin/server\n", inside.stderr
