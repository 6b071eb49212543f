"""Fixtures: a fake world over a temporary root, and a cage in it (``fake.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.rawposix.fake import FakeCage, FakeWorld


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The root's directory, with a file and a directory in it."""
    directory = tmp_path / "root"
    (directory / "dir").mkdir(parents=True)
    (directory / "hello.txt").write_bytes(b"hello, world\n")
    return directory


@pytest.fixture
def world(root: Path) -> Iterator[FakeWorld]:
    fake = FakeWorld(root)
    yield fake
    fake.close()


@pytest.fixture
def cage(world: FakeWorld) -> FakeCage:
    return world.cage(1)
