"""Binaryen's ``wasm-opt``: the post-link passes some cage programs need.

Theory of operation
-------------------
Two kinds of program need a pass after ``wasm-ld``:

* a program that **forks** (its module imports ``lind.fork``) is run through Binaryen's
  *Asyncify* transform with ``lind.fork`` as the only import that may unwind/rewind the stack
  (:func:`asyncify_fork`). The runtime (``lind_async/runtime/fork.py``) unwinds the parent at the
  ``lind.fork`` call, copies the cage and rewinds both copies. Indirect calls are **not** ignored:
  musl calls ``main`` through a function pointer (``__libc_start_main`` → ``libc_start_main_stage2``
  → ``main``), and programs fork from callbacks, so every function that makes an indirect call is
  instrumented too (safe; ``asyncify-ignore-indirect`` would silently corrupt a fork made below an
  indirect call). The instrumented code is optimised (``-O2``), which keeps the growth small; the
  asyncify globals are exported so the ``lind.fork`` host import can switch the state without
  calling back into wasm;
* a program that uses **setjmp/longjmp** is compiled with clang 18's wasm SjLj lowering, which
  emits the *legacy* exception-handling instructions; wasmtime only runs the standard *exnref*
  form, so :func:`translate_to_exnref` converts them.

Finding wasm-opt (:func:`wasm_opt`), first hit wins: ``$LIND_ASYNC_WASM_OPT`` (a path); a
``wasm-opt`` on ``PATH`` whose version is at least :data:`MIN_VERSION`; the npm package
``binaryen@`` :data:`NPM_VERSION` installed under ``<cache>/binaryen-<version>`` (run with node),
installed there with ``npm`` on first use. When none can be had, :class:`ToolchainError` says in
one line what to install.

The first install says on stderr what it fetches and why, shows the seconds going by on a terminal,
and says when it is done: a compile that suddenly downloads ~:data:`NPM_DOWNLOAD_MB` MB should not
look hung. npm is the channel because no PyPI package ships a ``wasm-opt`` binary of version
:data:`MIN_VERSION` or later (the Binaryen packages there are bindings or older releases), and
Debian's ``binaryen`` is older still; the npm package is Binaryen's own build (wasm, run by node).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from lind_async.toolchain.zig import ToolchainError

MIN_VERSION = 132
NPM_VERSION = "132.0.0"
NPM_DOWNLOAD_MB = 23
"""The npm tarball's size (about 100 MB once unpacked)."""

FEATURES: tuple[str, ...] = (
    "--enable-threads", "--enable-bulk-memory", "--enable-mutable-globals",
    "--enable-sign-ext", "--enable-reference-types", "--enable-nontrapping-float-to-int",
    "--enable-exception-handling", "--enable-multivalue",
)
"""Everything a cage module may use (wasm-opt must not strip or reject any of it)."""

FORK_IMPORT = "lind.fork"
ASYNCIFY_EXPORTS = (
    "asyncify_start_unwind", "asyncify_stop_unwind", "asyncify_start_rewind",
    "asyncify_stop_rewind", "asyncify_get_state",
)
ASYNCIFY_GLOBALS = ("__asyncify_state", "__asyncify_data")

_INSTALL_HINT = (
    f"install Node.js 18+ with npm (e.g. apt-get install nodejs npm) so that `npm install "
    f"binaryen@{NPM_VERSION}` can run, or put Binaryen's wasm-opt >= {MIN_VERSION} on PATH "
    "(or set LIND_ASYNC_WASM_OPT)"
)

_lock = threading.Lock()


def _cache_root() -> Path:
    from lind_async.toolchain.sysroot import cache_root

    return cache_root()


def _version(cmd: Sequence[str]) -> int | None:
    try:
        proc = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"version (\d+)", proc.stdout + proc.stderr)
    return int(m.group(1)) if m and proc.returncode == 0 else None


@contextmanager
def _progress(what: str, stream: TextIO) -> Iterator[None]:
    """``lind_async: fetching …``, then ``… done in Ns``; on a terminal the seconds tick by."""
    started = time.monotonic()
    stream.write(f"lind_async: fetching {what}\u2026\n")
    stream.flush()
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            stream.write(f"\r  npm install: {time.monotonic() - started:.0f}s")
            stream.flush()

    ticker = threading.Thread(target=tick, daemon=True) if stream.isatty() else None
    if ticker is not None:
        ticker.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
            stream.write("\r")
        elapsed = time.monotonic() - started
        stream.write(f"lind_async: {'done' if ok else 'failed'} in {elapsed:.0f}s\n")
        stream.flush()


def _npm_wasm_opt(install: bool, why: str) -> list[str] | None:
    """``node …/wasm-opt`` from the cached npm install (installing it first if asked)."""
    prefix = _cache_root() / f"binaryen-{NPM_VERSION}"
    script = prefix / "node_modules" / "binaryen" / "bin" / "wasm-opt"
    node = shutil.which("node")
    if node is None:
        return None
    if not script.is_file():
        npm = shutil.which("npm")
        if not install or npm is None:
            return None
        prefix.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{prefix.name}.tmp-", dir=prefix.parent))
        what = (f"Binaryen's wasm-opt (npm package binaryen@{NPM_VERSION}, "
                f"~{NPM_DOWNLOAD_MB} MB) for {why}, once, into {prefix}")
        try:
            with _progress(what, sys.stderr):
                proc = subprocess.run(
                    [npm, "install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error",
                     "--prefix", str(tmp), f"binaryen@{NPM_VERSION}"],
                    capture_output=True, text=True, timeout=600, check=False)
                if proc.returncode != 0:
                    last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["failed"]
                    raise ToolchainError(f"npm install binaryen@{NPM_VERSION} failed "
                                         f"({last[0]}); {_INSTALL_HINT}")
            try:
                tmp.rename(prefix)
            except OSError:
                if not script.is_file():  # another process won the race: use its copy
                    raise
        except subprocess.TimeoutExpired:
            raise ToolchainError(f"npm install binaryen@{NPM_VERSION} timed out; "
                                 f"{_INSTALL_HINT}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return [node, str(script)]


_found: list[str] | None = None


def _find(install: bool, why: str) -> list[str] | None:
    explicit = os.environ.get("LIND_ASYNC_WASM_OPT")
    if explicit:
        return [explicit]
    system = shutil.which("wasm-opt")
    if system is not None:
        v = _version([system])
        if v is not None and v >= MIN_VERSION:
            return [system]
    return _npm_wasm_opt(install, why)


def forget() -> None:
    """Look for wasm-opt again on the next call (after the environment changed)."""
    global _found
    with _lock:
        _found = None


def wasm_opt(*, install: bool = True, why: str = "fork/setjmp support") -> list[str]:
    """The command that runs a usable wasm-opt (installs the npm package on first use, saying
    on stderr that it does so ``for <why>``)."""
    global _found
    with _lock:
        if _found is None:
            _found = _find(install, why)
        cmd = _found
    if cmd is None:
        raise ToolchainError(f"this program needs Binaryen's wasm-opt (>= {MIN_VERSION}): "
                             f"{_INSTALL_HINT}")
    return list(cmd)


def _run(args: Sequence[str], src: Path, dst: Path, what: str, why: str) -> None:
    cmd = [*wasm_opt(why=why), *FEATURES, *args, str(src), "-o", str(dst)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolchainError(f"wasm-opt ({what}) could not run: {e}") from None
    if proc.returncode != 0:
        # node prints the failing line of the (one-line, megabytes long) wasm-opt script
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if 0 < len(ln) < 500]
        raise ToolchainError(f"wasm-opt ({what}) failed: {' / '.join(lines[:6]) or 'no output'}")


def asyncify_args() -> list[str]:
    """The passes that make ``lind.fork`` able to unwind and rewind the wasm stack."""
    return ["-O2", "--asyncify", f"--pass-arg=asyncify-imports@{FORK_IMPORT}",
            "--pass-arg=asyncify-export-globals"]


def asyncify_fork(src: Path, dst: Path) -> None:
    """Asyncify ``src`` (a module importing ``lind.fork``) into ``dst``."""
    _run(asyncify_args(), src, dst, "asyncify for fork", "fork support")


def translate_to_exnref(src: Path, dst: Path) -> None:
    """Rewrite legacy exception-handling instructions (try/catch/rethrow) as exnref."""
    _run(["--translate-to-exnref"], src, dst, "exnref translation",
         "setjmp/longjmp support")


def run_passes(src: Path, dst: Path, *, fork: bool, exceptions: bool) -> None:
    """One wasm-opt run with the passes the module needs (in place when ``src == dst``)."""
    args: list[str] = []
    if fork:
        args += asyncify_args()
    if exceptions:  # after asyncify: it cannot flatten exnref's try_table
        args.append("--translate-to-exnref")
    if args:
        needs = [n for n, used in (("fork", fork), ("setjmp/longjmp", exceptions)) if used]
        _run(args, src, dst, "post-link passes",
             f"{' and '.join(needs)} support, which this program uses")
