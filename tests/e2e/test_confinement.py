"""The filesystem is confined to --root: `..`, absolute paths and symlinks resolve inside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.e2e.conftest import run_cage


def test_paths_cannot_leave_the_root(cage_program: Any, root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("decoy passwd inside the root\n")
    (root / "sub").mkdir()
    os.symlink("/etc/passwd", root / "escape-abs")
    os.symlink("../../../../../../etc/passwd", root / "escape-rel")
    result = run_cage(cage_program("confine"), [], root=root)
    assert result.status == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    decoy = "[decoy passwd inside the root]"
    assert lines == [
        f"../../etc/passwd: {decoy}",
        f"/etc/passwd: {decoy}",
        f"/../../../../etc/passwd: {decoy}",
        f"escape-abs: {decoy}",
        f"escape-rel: {decoy}",
        "sub/../../../etc/hostname: No such file or directory",
        "cwd after chdir(/../..): /",
    ]
    assert "root:" not in result.stdout.decode()
