from __future__ import annotations

from pathlib import Path

import pytest

from lind_async.toolchain.sysroot import ensure_sysroot


@pytest.fixture(scope="session")
def sysroot() -> Path:
    """The lind-musl sysroot (built on first use: ~20-60 s cold, then cached)."""
    return ensure_sysroot(progress=False)
