"""Clamping and teeing Python grates (namespace, memfs, tee) on real C programs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.conftest import REPO


def run(root: Path, wasm: Path, *grates: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(root)]
    for spec in grates:
        cmd += ["--grate", spec]
    return subprocess.run(
        [*cmd, str(wasm)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


EXPECTED = [
    "/tmp/inside.txt: 22 bytes, size 22: kept in the namespace",
    "/tmp/relative.txt: 17 bytes, size 17: relative to /tmp",
    "/outside.txt: 20 bytes, size 20: written to the root",
    "dup shares the offset: kept",
    "entries in /tmp: 2",
    "unlink inside: 0",
    "gone: 1",
]


def test_namespace_sends_only_the_prefix_to_memfs(cage_program: Any, root: Path) -> None:
    (root / "tmp").mkdir()
    result = run(root, cage_program("ns_app"), "namespace:/tmp=memfs")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == EXPECTED
    assert (root / "outside.txt").read_text() == "written to the root\n"
    assert list((root / "tmp").iterdir()) == []  # nothing under /tmp reached the host


def test_without_the_namespace_everything_is_on_the_host(cage_program: Any, root: Path) -> None:
    (root / "tmp").mkdir()
    result = run(root, cage_program("ns_app"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == EXPECTED[:3]
    assert (root / "tmp" / "relative.txt").read_text() == "relative to /tmp\n"


def test_clamps_nest_and_clamped_grates_see_only_their_calls(cage_program: Any, root: Path) -> None:
    (root / "tmp").mkdir()
    # /tmp goes through strace then a nested namespace that keeps /tmp/x* in memory…
    result = run(root, cage_program("ns_app"), "namespace:/tmp=strace+memfs")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == EXPECTED
    traced = result.stderr
    assert 'open("/tmp/inside.txt"' in traced or 'openat(AT_FDCWD, "/tmp/inside.txt"' in traced
    assert "/outside.txt" not in traced  # outside the prefix: never clamped, never traced


def test_tee_reports_what_a_secondary_policy_would_change(
    cage_program: Any, root: Path, tmp_path: Path
) -> None:
    (root / "tmp").mkdir()
    policy = tmp_path / "policy.txt"
    policy.write_text("deny unlink, unlinkat -> EPERM\n")
    result = run(root, cage_program("ns_app"), f"tee:seccomp:{policy}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "unlink inside: 0" in lines and "gone: 1" in lines  # the primary path decided
    assert "[tee]" in result.stderr and "unlink" in result.stderr
    assert "primary 0, secondary -1" in result.stderr


def test_namespaces_nest(cage_program: Any, root: Path) -> None:
    (root / "tmp").mkdir()
    result = run(root, cage_program("ns_app"), "namespace:/tmp=namespace:/tmp=memfs")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == EXPECTED
    assert list((root / "tmp").iterdir()) == []
