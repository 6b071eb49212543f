"""``namespace:/tmp=memfs`` behaves as a real directory would: C programs run in a cage under it
print what the same programs built natively print against a fresh directory.

The cage's root has no ``/tmp`` at all: memfs presents it (and nothing of it reaches the host).
Each program takes the directory as ``argv[1]`` ("/tmp" in the cage, a fresh host directory
natively), so every fd number, listing and error it prints can be compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import install, run_cage, run_native

GRATE = ["--grate", "namespace:/tmp=memfs"]


@pytest.mark.parametrize("name", ["memfs_create", "memfs_fds", "memfs_select"])
def test_memfs_under_a_namespace_matches_native(
    name: str, cage_program: Any, native_program: Any, tmp_path: Path
) -> None:
    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    (native_root / "tmp").mkdir(parents=True)
    cage_root.mkdir()
    expected = run_native(native_program(name), [str(native_root / "tmp")], root=native_root)
    assert expected.status == 0, expected.stderr
    got = run_cage(cage_program(name), ["/tmp"], root=cage_root, extra=GRATE)
    assert got.stdout.decode() == expected.stdout.decode(), got.stderr.decode()
    assert (got.status, got.stderr) == (0, b"")
    assert list(cage_root.iterdir()) == []  # /tmp was memfs's alone


def test_memfs_fds_are_small(cage_program: Any, tmp_path: Path) -> None:
    """The numbers themselves (the comparison above holds natively too): the first file gets 3,
    the next free numbers follow."""
    got = run_cage(cage_program("memfs_fds"), ["/tmp"], root=tmp_path, extra=GRATE)
    lines = got.stdout.decode().splitlines()
    assert lines[:3] == [
        "three files: 3 4 5",
        "a pipe takes the lowest free numbers: 4 6",
        "a file takes the lowest free number: 3",
    ], got.stderr.decode()


def test_the_lane_sees_the_calls_on_memfs_numbers(cage_program: Any, tmp_path: Path) -> None:
    """With strace in the lane: calls on memfs's numbers (a forked child's too) are traced; a
    number closed, or made a pipe's by ``dup2``, is RawPOSIX's again and leaves the lane."""
    got = run_cage(
        cage_program("memfs_fds"), ["/tmp"], root=tmp_path,
        extra=["--grate", "namespace:/tmp=strace+memfs"],
    )  # fmt: skip
    traced = got.stderr.decode()
    assert got.status == 0, traced
    assert 'dup2(3, 10) = 10\nlseek(10, 2, SEEK_SET) = 2\nread(3, "23", 2) = 2\n' in traced
    assert "fcntl(3, F_DUPFD, 0) = 7\n" in traced
    assert 'read(3, "01", 2) = 2' in traced  # the child's read, on the inherited number
    assert "read(10" not in traced  # closed: EBADF from RawPOSIX, never in the lane
    assert "via c" not in traced  # the pipe dup2-ed over memfs's number 5


def test_exec_closes_cloexec_memfs_fds_and_keeps_the_others(
    cage_program: Any, native_program: Any, tmp_path: Path
) -> None:
    native_root, cage_root = tmp_path / "native", tmp_path / "cage"
    (native_root / "tmp").mkdir(parents=True)
    (cage_root / "bin").mkdir(parents=True)
    native = native_program("memfs_exec")
    expected = run_native(native, [str(native_root / "tmp"), str(native)], root=native_root)
    assert b"exec'd: fd 3 Bad file descriptor; fd 4 flags 0, reads on: 5" in expected.stdout
    install(cage_program("memfs_exec"), cage_root / "bin" / "memfs_exec")
    got = run_cage(
        cage_program("memfs_exec"), ["/tmp", "/bin/memfs_exec"], root=cage_root, extra=GRATE
    )
    assert got.stdout.decode() == expected.stdout.decode(), got.stderr.decode()
    assert (got.status, got.stderr) == (expected.status, b"")
    assert [p.name for p in cage_root.iterdir()] == ["bin"]
