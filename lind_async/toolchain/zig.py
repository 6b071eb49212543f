"""Locate the pinned zig toolchain (the ``ziglang`` wheel) and its bundled musl sources.

The toolchain never calls ``python -m ziglang`` (a Python start-up per compiled file would dominate
a 1,300-file build): it runs the ``zig`` binary inside the installed package directly, through the
subcommands ``zig clang`` (plain clang 18, none of ``zig cc``'s defaults or caching), ``zig
wasm-ld``,
``zig ar`` and ``zig build-lib`` (compiler-rt).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

ZIGLANG_REQUIREMENT = "ziglang==0.13.0"
"""The only ziglang release whose wheel carries the complete musl source tree."""


class ToolchainError(Exception):
    """The toolchain cannot do what was asked; ``str()`` is a message meant for the user."""


@functools.cache
def ziglang_dir() -> Path:
    """The installed ``ziglang`` package directory (holds the ``zig`` binary and ``lib/``)."""
    spec = importlib.util.find_spec("ziglang")
    if spec is None or spec.origin is None:
        raise ToolchainError(
            f"the C toolchain needs zig: pip install '{ZIGLANG_REQUIREMENT}'"
        )
    return Path(spec.origin).parent


@functools.cache
def ziglang_version() -> str:
    import importlib.metadata  # (not at import: the runtime imports this module to run a cage)

    try:
        return importlib.metadata.version("ziglang")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def zig_exe() -> Path:
    """The ``zig`` executable shipped in the ``ziglang`` wheel."""
    name = "zig.exe" if sys.platform == "win32" else "zig"
    exe = ziglang_dir() / name
    if not exe.is_file():
        raise ToolchainError(
            f"the ziglang package at {ziglang_dir()} has no {name} binary: "
            f"pip install --force-reinstall '{ZIGLANG_REQUIREMENT}'"
        )
    return exe


def zig(*args: str) -> list[str]:
    """The command line for ``zig <args…>``."""
    return [str(zig_exe()), *args]


@functools.cache
def musl_source_dir() -> Path:
    """musl's source tree in the ziglang wheel (``src``, ``include``, ``arch/generic``, ``crt``)."""
    musl = ziglang_dir() / "lib" / "libc" / "musl"
    needed = [musl / "src" / "stdio" / "printf.c", musl / "include" / "stdio.h",
              musl / "arch" / "generic" / "bits" / "errno.h", musl / "include" / "alltypes.h.in"]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        raise ToolchainError(
            f"the installed ziglang {ziglang_version()} lacks musl's sources ({missing[0]}): "
            f"pip install '{ZIGLANG_REQUIREMENT}' (newer wheels trim musl)"
        )
    return musl


def zig_lib_dir() -> Path:
    """zig's ``lib`` directory (``compiler_rt.zig`` lives there)."""
    return ziglang_dir() / "lib"
