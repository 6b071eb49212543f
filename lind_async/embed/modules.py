"""Programs to modules, once: what lets a server start thousands of cages cheaply.

A program is a host path to a ``.c`` source (compiled with ``lind_async cc``, cached on disk by
content), a ``.wasm`` module or a trusted ``.cwasm`` precompiled module, the bytes of a module, or a
``wasmtime.Module`` this microvisor loaded before (:meth:`ModuleCache.load`). Paths are remembered
by (real path, inode, size, mtime): a hit costs one ``stat``, no read and no hash; an edited file is
loaded again. Compiling is slow (seconds for C, ~0.5 s for wasm to native code), so misses run in a
worker thread and never stall the loop; the engine's own caches (in memory by content hash, on disk
as serialized native code) sit below this one.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from pathlib import Path

import wasmtime

from lind_async.wasm.abi_check import check_lind_abi
from lind_async.wasm.engine import LindEngine

Program = str | os.PathLike[str] | bytes | bytearray | wasmtime.Module

_FileKey = tuple[str, int, int, int]


class ModuleCache:
    """Loaded, ABI-checked modules of one engine."""

    def __init__(self, engine: LindEngine) -> None:
        self.engine = engine
        self._by_file: dict[_FileKey, wasmtime.Module] = {}
        self._mine: weakref.WeakSet[wasmtime.Module] = weakref.WeakSet()
        self._lock = threading.Lock()

    def cached(self, program: Program) -> wasmtime.Module | None:
        """The module for ``program`` if it needs no compiling now (one ``stat`` at most)."""
        if isinstance(program, wasmtime.Module):
            return self._own(program)
        if isinstance(program, bytes | bytearray):
            return None
        key = _file_key(program)
        with self._lock:
            return self._by_file.get(key)

    def load_now(self, program: Program) -> wasmtime.Module:
        """Load ``program`` (compiling it if needed; slow: call it off the loop)."""
        hit = self.cached(program)
        if hit is not None:
            return hit
        assert not isinstance(program, wasmtime.Module)
        if isinstance(program, bytes | bytearray):
            module = self.engine.load_module(program)
            check_lind_abi(module, "<bytes>")
        else:
            key = _file_key(program)
            path = Path(program)
            source = path
            if path.suffix == ".c":
                from lind_async.toolchain.cc import compile_cached

                source = compile_cached(path)
            module = self.engine.load_module(source)
            check_lind_abi(module, os.fspath(program))
            with self._lock:
                self._by_file[key] = module
        with self._lock:
            self._mine.add(module)
        return module

    async def load(self, program: Program) -> wasmtime.Module:
        """Load ``program``; a cache hit returns at once, a miss compiles in a worker thread."""
        hit = self.cached(program)
        if hit is not None:
            return hit
        return await asyncio.get_running_loop().run_in_executor(None, self.load_now, program)

    def clear(self) -> None:
        """Forget every module (the microvisor is closing)."""
        with self._lock:
            self._by_file.clear()
            self._mine.clear()
        self.engine.clear_modules()

    def _own(self, module: wasmtime.Module) -> wasmtime.Module:
        with self._lock:
            if module not in self._mine:
                raise ValueError(
                    "this module was not loaded by this microvisor (use Microvisor.load(); a "
                    "module belongs to the engine that compiled it)"
                )
        return module


def _file_key(program: str | os.PathLike[str]) -> _FileKey:
    path = os.path.realpath(program)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FileNotFoundError(exc.errno, f"{os.fspath(program)}: {exc.strerror}") from None
    return path, st.st_ino, st.st_size, st.st_mtime_ns
