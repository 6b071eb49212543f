"""POSIX conformance, files and processes: C programs (``programs/fp_*.c``) compared with the same
sources built natively, plus the cage-only checks where the native answer is host-specific."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import MatchesNative

COMPARED = ["fp_rw", "fp_truncate", "fp_wait"]


@pytest.mark.parametrize("name", COMPARED)
def test_matches_native(name: str, matches_native: MatchesNative) -> None:
    matches_native(name, "plain", quiet=True)


def test_vectored_positional_calls_through_a_grate(matches_native: MatchesNative) -> None:
    matches_native("fp_rw", "py-passthrough", quiet=True)
