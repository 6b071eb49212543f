"""Embedding-API tests: each runs on asyncio, asyncio+uvloop and trio through anyio.

The suite's pytest-asyncio runs in auto mode, which claims every ``async def`` test, so these tests
are plain functions that hand their async body to :func:`anyio.run` with the backend the
``anyio_backend`` fixture names (the same three backends the anyio pytest plugin would use).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

# (opens the process's pagemap fd, kept for its life, before a test compares fds)
import lind_async.memory.cow  # noqa: F401

PROGRAMS = Path(__file__).parent / "programs"

Runner = Callable[[Callable[[], Awaitable[Any]]], Any]
Build = Callable[[str], Path]


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def run(anyio_backend: tuple[str, dict[str, Any]]) -> Runner:
    """Run an async test body on the backend under test; returns what it returns."""
    name, options = anyio_backend

    def runner(body: Callable[[], Awaitable[Any]]) -> Any:
        return anyio.run(body, backend=name, backend_options=options)

    return runner


@pytest.fixture
def backend(anyio_backend: tuple[str, dict[str, Any]]) -> str:
    name, options = anyio_backend
    return "uvloop" if options.get("use_uvloop") else name


@pytest.fixture(scope="session")
def program() -> Build:
    """Compile ``programs/NAME.c`` for a cage (cached by content); returns the .wasm path."""
    from lind_async.toolchain.cc import compile_cached

    def build(name: str) -> Path:
        return compile_cached(PROGRAMS / f"{name}.c")

    return build


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


def open_fds() -> dict[str, str]:
    """This process's open fds and what they are (the listing's own fd excluded)."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:
            continue
    return found


@pytest.fixture(scope="module")
def native_upper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``echo_upper.c`` built by gcc, the pool tests' native comparison."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("a native C compiler (gcc) is required for the comparison tests")
    exe = tmp_path_factory.mktemp("native") / "echo_upper"
    subprocess.run([gcc, "-O1", "-o", str(exe), str(PROGRAMS / "echo_upper.c")], check=True)
    return exe
