"""docs/syscalls.md is generated from the syscall table: fail when it is out of date."""

from __future__ import annotations

import importlib.util

from tests.examples.conftest import REPO


def test_syscall_matrix_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_syscall_matrix", REPO / "scripts" / "gen_syscall_matrix.py"
    )
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (REPO / "docs" / "syscalls.md").read_text() == gen.render(), (
        "docs/syscalls.md is out of date: run python scripts/gen_syscall_matrix.py"
    )
