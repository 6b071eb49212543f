"""The C toolchain: builds the lind-musl sysroot and compiles C programs into cage modules.

Public API:

* :func:`ensure_sysroot` — build (once, cached) and return the lind-musl sysroot directory;
* :func:`compile_program` / :func:`compile_cached` — C sources → validated ``.wasm`` module;
* :func:`main` — the gcc-compatible ``cc`` command line (``lind-cc …``, ``python -m lind_async cc
  …``; :mod:`lind_async.toolchain.driver`);
* :class:`ToolchainError` — every user-facing failure (its message is meant to be printed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lind_async.toolchain.zig import ToolchainError

if TYPE_CHECKING:
    from lind_async.toolchain.cc import CompileError, compile_cached, compile_program, main
    from lind_async.toolchain.sysroot import ensure_sysroot

_LAZY = {
    "CompileError": "lind_async.toolchain.cc",
    "compile_cached": "lind_async.toolchain.cc",
    "compile_program": "lind_async.toolchain.cc",
    "main": "lind_async.toolchain.cc",
    "ensure_sysroot": "lind_async.toolchain.sysroot",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that ``python -m lind_async.toolchain.cc`` does not import cc twice.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)

__all__ = [
    "CompileError",
    "ToolchainError",
    "compile_cached",
    "compile_program",
    "ensure_sysroot",
    "main",
]
