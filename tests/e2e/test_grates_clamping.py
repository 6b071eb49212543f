"""Clamping and teeing Python grates (namespace, memfs, tee) on real C programs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.conftest import REPO, run_native


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
    "dup shares the offset: in t",  # lseek on the copy moved the original: "kept in the…"[5:9]
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


# ------------------------------------------------------------------ a clamped C grate (imfs)
IMFS = REPO / "lind_async" / "grates" / "imfs.c"


def test_namespace_clamps_the_c_imfs_like_native(
    cage_program: Any, native_program: Any, root: Path, tmp_path: Path
) -> None:
    """``namespace:/tmp=imfs.c``: the namespace starts the C grate itself and sends /tmp
    to it. The program's output is the one it has natively, /tmp never reaches the root, and
    what lies outside /tmp does."""
    native_root = tmp_path / "native-root"
    native_root.mkdir()
    expected = run_native(native_program("ns_imfs"), [], root=native_root)
    result = run(root, cage_program("ns_imfs"), f"namespace:/tmp={IMFS}")
    assert result.stdout == expected.stdout.decode(), result.stderr
    assert result.returncode == expected.status == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert not (root / "tmp").exists()  # imfs kept /tmp in its memory
    assert (root / "outside.txt").read_text() == "on the host\n"


def test_a_python_grate_above_a_clamped_c_grate_sees_its_calls(
    cage_program: Any, root: Path
) -> None:
    """``strace+imfs.c``: the Python strace is outermost in the lane, the C imfs (whose handlers
    arrive after strace was attached) below it: strace traces the /tmp calls, imfs serves them,
    the rest never passes either."""
    result = run(root, cage_program("ns_imfs"), f"namespace:/tmp=strace+{IMFS}")
    assert result.returncode == 0, result.stderr
    assert "create inside: ok" in result.stdout and "[kept ]" in result.stdout
    traced = [line for line in result.stderr.splitlines() if "lind_ns_imfs_inside" in line]
    assert any("open" in line and "O_CREAT" in line and "= 16384" in line for line in traced)
    assert any(line.split("] ", 1)[-1].startswith("unlink") for line in traced), result.stderr
    assert "outside.txt" not in result.stderr  # not under the prefix: never in the lane
    assert not (root / "tmp").exists()


def test_a_clamped_program_that_is_no_grate_gives_eio(cage_program: Any, root: Path) -> None:
    """A lane member that ends without registering (here a plain program) is a dead grate:
    the calls sent to it fail with EIO, nothing hangs, the rest works."""
    result = run(root, cage_program("ns_imfs"), f"namespace:/tmp={cage_program('hello')}")
    assert result.returncode == 0, result.stderr
    assert "create inside: I/O error" in result.stdout  # musl's strerror(EIO)
    assert "create outside: ok" in result.stdout
    assert (root / "outside.txt").exists()


def test_a_missing_clamped_program_is_a_usage_error(cage_program: Any, root: Path) -> None:
    result = run(root, cage_program("hello"), "namespace:/tmp=/no/such/imfs.wasm")
    assert result.returncode == 2
    assert "/no/such/imfs.wasm: no such file" in result.stderr


def test_tee_refuses_a_c_grate(cage_program: Any, root: Path) -> None:
    """A teed stack ends in a sink that answers instead of the host, so a C grate's own calls
    would vanish there: tee says so instead of starting it."""
    result = run(root, cage_program("hello"), f"tee:{IMFS}")
    assert result.returncode == 2
    assert "only Python grates can be teed into" in result.stderr
