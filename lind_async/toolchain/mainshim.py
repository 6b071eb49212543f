"""``liblindmain.a``: the ``main`` that calls a hosted program's ``__main_argc_argv``.

Hosted clang renames ``int main(int argc, char **argv)`` to ``__main_argc_argv`` on WebAssembly
(the wasm convention that lets start-up code tell ``main``'s signatures apart); ``main(void)`` keeps
a two-argument ``main`` wrapper and ``main(argc, argv, envp)`` stays ``main``. lind-musl's ``crt1``
calls ``main``, so every program link includes this one-member archive, after the program's own
objects: its ``main`` forwards to ``__main_argc_argv`` and is pulled in only when the program
defines no ``main`` of its own, the way any archive member is.

The archive is compiled freestanding (so its ``main`` is not renamed) once per set of inputs and
cached under ``<cache>/toolchain/``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import threading
from pathlib import Path

from lind_async.toolchain.sysroot import TARGET_CFLAGS, cache_root
from lind_async.toolchain.zig import ToolchainError, zig, ziglang_version

SOURCE = """\
/* Written by lind_async.toolchain.mainshim: crt1 calls main; hosted clang names a two-argument
 * main __main_argc_argv. */
int __main_argc_argv(int argc, char **argv);
int main(int argc, char **argv) { return __main_argc_argv(argc, argv); }
"""
FLAGS: tuple[str, ...] = (*TARGET_CFLAGS, "-O2")

_lock = threading.Lock()


def _key() -> str:
    h = hashlib.sha256("\0".join([SOURCE, *FLAGS, ziglang_version()]).encode())
    return h.hexdigest()[:16]


def _run(cmd: list[str]) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise ToolchainError(f"cannot run {cmd[0]}: {e}") from None
    if proc.returncode != 0:
        raise ToolchainError(f"building liblindmain.a failed: {proc.stderr.strip()}")


def main_shim() -> Path:
    """The archive's path, built first if it is not cached yet."""
    archive = cache_root() / "toolchain" / f"liblindmain-{_key()}.a"
    with _lock:
        if archive.is_file():
            return archive
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="lindmain-", dir=archive.parent) as tmp:
            src, obj, lib = Path(tmp) / "lindmain.c", Path(tmp) / "lindmain.o", Path(tmp) / "l.a"
            src.write_text(SOURCE)
            _run(zig("clang", *FLAGS, "-c", str(src), "-o", str(obj)))
            _run(zig("ar", "rcs", str(lib), str(obj)))
            os.replace(lib, archive)  # atomic: a racing process writes the same bytes
    return archive
