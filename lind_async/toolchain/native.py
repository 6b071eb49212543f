"""Native helpers of the runtime, built once with the ``ziglang`` wheel's ``zig cc`` into the
cache and loaded with ctypes: the SIGBUS guard's handler (``native/faults.c``, used by
``memory/faults.py``) and the ``lind.syscall`` trampoline (``native/syscall_entry.c``, used by
``runtime/syscall_entry.py``, which falls back to Python without it) and the grate hop's glue
(``native/grate_entry.c``, used by ``threei/native.py``, likewise optional) and the epoch ticker's
C thread (``native/ticker.c``, used by ``wasm/ticker.py``, likewise). A build is keyed by
source and machine (the guard's by zig's version too), written beside its final name and renamed
into place (a loaded library is never rewritten)."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "native" / "faults.c"
SYSCALL_ENTRY_SOURCE = SOURCE.with_name("syscall_entry.c")
GRATE_ENTRY_SOURCE = SOURCE.with_name("grate_entry.c")
TICKER_SOURCE = SOURCE.with_name("ticker.c")
# a source's own parts (``#include "part.c"`` beside it): the build's key covers them too
_LOCAL_INCLUDE = re.compile(rb'^#include "([A-Za-z0-9_]+\.[ch])"', re.MULTILINE)


def _build(out: Path, source: Path = SOURCE) -> None:
    from lind_async.toolchain.zig import zig  # (loaded only when a build is needed)

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=".so")
    os.close(fd)
    zig_cache = tempfile.mkdtemp(dir=out.parent, prefix=".zig-")  # not $HOME's (read-only?)
    try:
        cmd = zig("cc", "-shared", "-fPIC", "-O2", "-Wall", "-o", tmp, str(source))
        env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": zig_cache, "ZIG_LOCAL_CACHE_DIR": zig_cache}
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise OSError(f"zig cc failed: {done.stderr.strip()}")
        os.replace(tmp, out)  # never rewrite a loaded library in place
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        shutil.rmtree(zig_cache, ignore_errors=True)  # ~36 MB of libc stubs, needed only now


def library_path() -> Path:
    """Where the built handler lives: the cache, keyed by source, zig and machine."""
    from lind_async.toolchain.sysroot import cache_root
    from lind_async.toolchain.zig import ziglang_version

    key = hashlib.sha256(SOURCE.read_bytes())
    key.update(f"\0{ziglang_version()}\0{platform.machine()}\0{platform.system()}".encode())
    return cache_root() / "native" / f"faults-{key.hexdigest()[:16]}.so"


def faults_library() -> Path:
    """The SIGBUS guard's handler library, built on first use."""
    path = library_path()
    if not path.is_file():
        _build(path)
    return path


def syscall_entry_library(cache_dir: Path) -> Path:
    """The ``lind.syscall`` trampoline's library under ``cache_dir`` (the runtime's cache
    root), built on first use. Keyed without zig's version and placed by the caller: every
    cage start asks for it, and neither a distribution's metadata nor the sysroot module is
    worth loading for that."""
    return _entry_library(cache_dir, SYSCALL_ENTRY_SOURCE)


def grate_entry_library(cache_dir: Path) -> Path:
    """The grate hop's glue library under ``cache_dir``, built on first use (keyed as
    :func:`syscall_entry_library`'s)."""
    return _entry_library(cache_dir, GRATE_ENTRY_SOURCE)


def ticker_library(cache_dir: Path) -> Path:
    """The epoch ticker's C thread library under ``cache_dir``, built on first use (keyed as
    :func:`syscall_entry_library`'s)."""
    return _entry_library(cache_dir, TICKER_SOURCE)


def _entry_library(cache_dir: Path, source: Path) -> Path:
    text = source.read_bytes()
    key = hashlib.sha256(text)
    for part in _LOCAL_INCLUDE.findall(text):  # (syscall_entry.c's syscall_files.c)
        key.update(b"\0" + part + b"\0" + source.with_name(part.decode()).read_bytes())
    key.update(f"\0{platform.machine()}\0{platform.system()}".encode())
    path = cache_dir / "native" / f"{source.stem}-{key.hexdigest()[:16]}.so"
    if not path.is_file():
        _build(path, source)
    return path
