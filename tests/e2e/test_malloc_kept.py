"""lind-musl's malloc keeps freed large chunks for reuse: under a memory limit it gives them back
before it fails an allocation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import run_cage


def test_kept_chunks_are_given_back_under_a_memory_limit(cage_program: Any, root: Path) -> None:
    wasm = cage_program("malloc_kept_limit")
    result = run_cage(wasm, [], root=root, extra=["--limit", "memory=48M"])
    assert result.stdout == (b"30 MiB after freeing 27: ok\nlast byte 7\n"
                             b"calloc 9 MiB: ok, 0 nonzero\n"), result.stderr
    assert result.status == 0
