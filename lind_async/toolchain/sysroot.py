"""Build and cache the lind-musl sysroot: musl's C sources + the project's wasm32 arch layer.

Theory of operation
-------------------
musl is built the way its own Makefile builds it, with ``ARCH=wasm32``:

* sources: every ``src/*/*.c`` and ``src/malloc/oldmalloc/*.c`` of the musl tree bundled in the
  pinned ``ziglang`` wheel (musl's previous allocator, not its default mallocng: see
  :data:`_EXTRA_SOURCE_DIRS`).  musl's per-arch subdirectories (``src/*/x86_64/…``) are never
  used.  The project's layer, ``lind_async/guest/src/<dir>/<name>.c``, replaces musl's
  ``src/<dir>/<name>.c`` of the same name (as an arch directory does in musl) or adds a new file;
* include order (musl's): ``guest/arch/wasm32``, ``arch/generic``, the generated internal dir
  (``version.h``), ``src/include``, ``src/internal``, then the sysroot's own ``include``;
* generated headers: ``bits/alltypes.h`` (the guest's ``alltypes.h.in`` + musl's generic one,
  expanded
  like ``tools/mkalltypes.sed``) and ``bits/syscall.h`` (the numbers from
  :mod:`lind_async.abi.syscalls` + the guest's hand-written ``bits/syscall.h.in`` tail);
* installed headers: musl's ``include/`` + ``arch/generic/bits`` overlaid by the guest's ``bits``
  (``make install-headers``);
* ``lib/crt1.o`` and ``lib/crt1-envp.o`` (for a three-argument ``main``) from ``guest/crt/crt1.c``;
  ``lib/libc.a``; ``lib/libcompiler_rt.a`` built by
  ``zig build-lib`` from zig's own compiler-rt (128-bit ``long double`` soft-float, 64-bit
  division…).

The result lives in ``<cache>/sysroot-<hash>`` where ``<hash>`` covers every input that can change
the
output: the guest layer's files, the syscall table, the compile flags, this module's source and the
ziglang version.  Editing the layer therefore selects a new directory and triggers a rebuild; stale
sysroots are left for the user to delete.  A build writes into a temporary sibling directory and is
renamed into place only when complete, so an interrupted build never leaves a half sysroot; when two
processes race, the first rename wins and the loser discards its copy.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from lind_async.abi import syscalls
from lind_async.toolchain.zig import (
    ToolchainError,
    musl_source_dir,
    zig,
    zig_lib_dir,
    ziglang_version,
)

MUSL_VERSION = "1.2.5"

CLANG_TARGET = "wasm32-unknown-unknown"
"""clang's spelling of zig's ``wasm32-freestanding``."""

TARGET_CFLAGS: tuple[str, ...] = (
    "-target", CLANG_TARGET, "-matomics", "-mbulk-memory", "-ffreestanding", "-nostdinc",
)
"""Flags every object linked into a cage must share (shared memory needs atomics + bulk memory)."""

SJLJ_CFLAGS: tuple[str, ...] = ("-mexception-handling", "-mllvm", "-wasm-enable-sjlj")
"""setjmp/longjmp through wasm exception handling (clang 18: legacy EH, translated to exnref by
``cc``). Programs get them always; a module with no setjmp contains no EH instruction."""

SJLJ_SOURCES = frozenset({"setjmp/longjmp.c"})
"""libc sources built with :data:`SJLJ_CFLAGS` (the sjlj runtime: it throws)."""

MUSL_CFLAGS: tuple[str, ...] = (
    *TARGET_CFLAGS,
    "-O2",
    "-std=c99",
    "-D_XOPEN_SOURCE=700",
    "-fno-stack-protector",
    "-frounding-math",
    "-ffunction-sections",
    "-fdata-sections",
    "-Werror=implicit-function-declaration",
    "-Werror=implicit-int",
    "-Werror=pointer-sign",
    "-Werror=pointer-arith",
    "-Werror=int-conversion",
    "-Werror=incompatible-pointer-types",
    "-Qunused-arguments",
)
"""Flags for libc itself (musl's own CFLAGS, translated to clang)."""

COMPILER_RT_CPU = "generic+atomics+bulk_memory+mutable_globals+sign_ext"

GUEST_DIR = Path(__file__).resolve().parent.parent / "guest"
ARCH_DIR = GUEST_DIR / "arch" / "wasm32"

_EMPTY_LIBS = ("m", "pthread", "rt", "dl", "util", "xnet", "crypt")

# musl's sources: src/<dir>/*.c for every dir, plus one malloc.
_EXTRA_SOURCE_DIRS = ("malloc/oldmalloc",)
"""musl's ``oldmalloc`` (its allocator until 1.2.1: size-class bins, boundary tags, brk then
mmap) rather than the default ``mallocng``: in a cage mallocng's out-of-band metadata checks
(``get_meta`` on every free) and slot bookkeeping cost an allocation-heavy program such as Lua
~10 % of its run time, oldmalloc about half that. What is given up is mallocng's hardening
(double frees and overflows into metadata detected and crashed on), which protects a program
from itself, not the microvisor from the program (docs/decisions.md, "Compute speed")."""


class SysrootError(ToolchainError):
    """Building the sysroot failed."""


def cache_root() -> Path:
    """``$LIND_ASYNC_CACHE_DIR``, else ``$XDG_CACHE_HOME/lind_async``, else ``~/.cache/lind_async``.
    """
    explicit = os.environ.get("LIND_ASYNC_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lind_async"


def _guest_files() -> list[Path]:
    return sorted(p for p in GUEST_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def sysroot_hash() -> str:
    """A digest of everything the sysroot is built from (16 hex digits)."""
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    for path in _guest_files():
        add("guest:" + path.relative_to(GUEST_DIR).as_posix(), path.read_bytes())
    add("syscalls", inspect.getsource(syscalls).encode())
    add("builder", inspect.getsource(sys.modules[__name__]).encode())
    add("flags", "\0".join(MUSL_CFLAGS).encode())
    add("ziglang", ziglang_version().encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Sysroot:
    """A built sysroot: what the ``cc`` driver needs to compile and link against it."""

    path: Path

    @property
    def include(self) -> Path:
        return self.path / "include"

    @property
    def lib(self) -> Path:
        return self.path / "lib"

    @property
    def crt1(self) -> Path:
        return self.lib / "crt1.o"

    @property
    def crt1_envp(self) -> Path:
        """The crt for a three-argument ``main(argc, argv, envp)``."""
        return self.lib / "crt1-envp.o"

    @property
    def libc(self) -> Path:
        return self.lib / "libc.a"

    @property
    def compiler_rt(self) -> Path:
        return self.lib / "libcompiler_rt.a"

    @property
    def hash(self) -> str:
        return self.path.name.removeprefix("sysroot-")


_lock = threading.Lock()
_ready: dict[Path, Path] = {}


def ensure_sysroot(*, progress: bool = True) -> Path:
    """Return the sysroot directory for the current inputs, building it first if needed."""
    target = cache_root() / f"sysroot-{sysroot_hash()}"
    with _lock:
        if target in _ready:
            return target
        if not (target / "lib" / "libc.a").is_file():
            _build(target, progress=progress)
        _ready[target] = target
    return target


# --------------------------------------------------------------------------------------------------
# generated headers


_TYPEDEF = re.compile(r"^TYPEDEF (.*) ([^ ]*);$")
_AGGREGATE = re.compile(r"^(STRUCT|UNION) +([^ ]*) (.*);$")


def expand_alltypes(text: str) -> str:
    """musl's ``alltypes.h.in`` notation → guarded C definitions (one ``__NEED_x`` per type)."""
    out: list[str] = []
    for line in text.splitlines():
        m = _TYPEDEF.match(line)
        if m:
            body, name = m.groups()
            out += [f"#if defined(__NEED_{name}) && !defined(__DEFINED_{name})",
                    f"typedef {body} {name};", f"#define __DEFINED_{name}", "#endif", ""]
            continue
        m = _AGGREGATE.match(line)
        if m:
            kind, name, body = m.groups()
            tag = kind.lower()
            out += [f"#if defined(__NEED_{tag}_{name}) && !defined(__DEFINED_{tag}_{name})",
                    f"{tag} {name} {body};", f"#define __DEFINED_{tag}_{name}", "#endif", ""]
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def syscall_header() -> str:
    """``<bits/syscall.h>``: ``__NR_x`` and ``SYS_x`` for each call in ``abi/syscalls.py``."""
    lines = ["/* Generated by lind_async.toolchain.sysroot from lind_async/abi/syscalls.py:",
             " * Linux x86_64 numbers, plus 3i's calls at 1001+.  Do not edit. */", ""]
    numbers = sorted((v, k) for k, v in vars(syscalls).items()
                     if k.startswith("SYS_") and isinstance(v, int))
    lines += [f"#define __NR_{name[4:]:<28} {nr}" for nr, name in numbers]
    lines.append("")
    lines += [f"#define {name:<32} {nr}" for nr, name in numbers]
    lines.append("")
    lines.append((ARCH_DIR / "bits" / "syscall.h.in").read_text())
    return "\n".join(lines)


def _install_headers(musl: Path, include: Path) -> None:
    shutil.copytree(musl / "include", include, ignore=shutil.ignore_patterns("*.in"))
    bits = include / "bits"
    bits.mkdir(exist_ok=True)
    for src in (musl / "arch" / "generic" / "bits").glob("*.h"):
        shutil.copy2(src, bits / src.name)
    for src in (ARCH_DIR / "bits").glob("*.h"):
        shutil.copy2(src, bits / src.name)
    guest_include = GUEST_DIR / "include"
    for src in guest_include.rglob("*.h"):  # public headers lind-musl replaces (sys/… too)
        target = include / src.relative_to(guest_include)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    alltypes = (ARCH_DIR / "bits" / "alltypes.h.in").read_text() + (
        musl / "include" / "alltypes.h.in").read_text()
    (bits / "alltypes.h").write_text(
        "/* Generated by lind_async.toolchain.sysroot.  Do not edit. */\n"
        + expand_alltypes(alltypes))
    (bits / "syscall.h").write_text(syscall_header())
    _pointer_formats(include / "inttypes.h")


_PRIPTR_CHOICE = '#define __PRIPTR ""\n#endif\n'


def _pointer_formats(inttypes: Path) -> None:
    """``PRIuPTR`` and friends must name ``uintptr_t``'s own type. On wasm32 that is ``unsigned
    long`` (clang's ``__UINTPTR_TYPE__``, which size_t and C++ mangling follow), 32 bits wide;
    musl picks the ``l`` length modifier only for 64-bit pointers, so ``printf("%" PRIuPTR, p)``
    drew ``-Wformat`` warnings (errors under ``-Werror``) on correct code. The installed header
    picks ``l`` for wasm32's pointer formats (the 64-bit ones stay ``ll``: int64_t is long long)."""
    text = inttypes.read_text()
    if text.count(_PRIPTR_CHOICE) != 1:
        raise ToolchainError(f"{inttypes}: musl's __PRIPTR choice changed; update sysroot.py")
    text = text.replace(
        _PRIPTR_CHOICE,
        _PRIPTR_CHOICE + '#ifdef __wasm32__\n#undef __PRIPTR\n#define __PRIPTR "l"\n#endif\n',
    )
    inttypes.write_text(text)


# --------------------------------------------------------------------------------------------------
# the build


@dataclass(frozen=True)
class _Job:
    source: Path
    obj: Path
    defines: tuple[str, ...] = ()


def libc_sources(musl: Path) -> list[tuple[str, Path]]:
    """``(key, path)`` for every libc source, keyed ``<dir>/<name>.c``; guest files win."""
    chosen: dict[str, Path] = {}
    src = musl / "src"
    dirs = [d for d in sorted(src.iterdir()) if d.is_dir()]
    dirs += [src / extra for extra in _EXTRA_SOURCE_DIRS]
    for d in dirs:
        for f in sorted(d.glob("*.c")):
            chosen[f.relative_to(src).as_posix()] = f
    guest_src = GUEST_DIR / "src"
    for f in sorted(guest_src.rglob("*.c")):
        chosen[f.relative_to(guest_src).as_posix()] = f
    return sorted(chosen.items())


class _Progress:
    """``[#####     ] 734/1348 musl`` on a terminal, a few plain lines otherwise."""

    def __init__(self, total: int, label: str, stream: TextIO | None) -> None:
        self.total, self.label, self.stream = total, label, stream
        self.done = 0
        self.tty = bool(stream is not None and stream.isatty())
        self._last_line = -1
        self._lock = threading.Lock()

    def step(self) -> None:
        with self._lock:
            self.done += 1
            if self.stream is None:
                return
            if self.tty:
                filled = self.done * 30 // self.total
                self.stream.write(f"\r[{'#' * filled}{' ' * (30 - filled)}] "
                                  f"{self.done}/{self.total} {self.label}")
                if self.done == self.total:
                    self.stream.write("\n")
                self.stream.flush()
            else:
                decile = self.done * 10 // self.total
                if decile != self._last_line:
                    self._last_line = decile
                    self.stream.write(f"{self.done}/{self.total} {self.label}\n")
                    self.stream.flush()


def _run(cmd: Sequence[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise SysrootError(f"cannot run {cmd[0]}: {e}") from None
    if proc.returncode != 0:
        out = (proc.stderr + proc.stdout).strip()
        raise SysrootError(f"{what} failed:\n{out}")


def _parallel(jobs: Sequence[_Job], run: Callable[[_Job], None], progress: _Progress) -> None:
    """Run ``jobs`` on ``os.cpu_count()`` threads; stop early on the first error or ^C."""
    stop = threading.Event()
    errors: list[SysrootError] = []

    def one(job: _Job) -> None:
        if stop.is_set():
            return
        try:
            run(job)
        except SysrootError as e:
            errors.append(e)
            stop.set()
        progress.step()

    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
    try:
        for future in [pool.submit(one, job) for job in jobs]:
            future.result()
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if errors:
        raise errors[0]


def _object_name(key: str) -> str:
    return key.removesuffix(".c").replace("/", ".") + ".o"


def _build(target: Path, *, progress: bool) -> None:
    musl = musl_source_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    stream = sys.stderr if progress else None
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=target.parent))
    try:
        include, lib, obj, gen = tmp / "include", tmp / "lib", tmp / "obj", tmp / "gen"
        lib.mkdir()
        obj.mkdir()
        gen.mkdir()
        _install_headers(musl, include)
        (gen / "version.h").write_text(f'#define VERSION "{MUSL_VERSION}-lind"\n')
        incs = ["-I", str(ARCH_DIR), "-I", str(musl / "arch" / "generic"), "-I", str(gen),
                "-I", str(musl / "src" / "include"), "-I", str(musl / "src" / "internal"),
                "-I", str(include)]

        sources = libc_sources(musl)
        jobs = [_Job(path, obj / _object_name(key), SJLJ_CFLAGS if key in SJLJ_SOURCES else ())
                for key, path in sources]
        crt1 = GUEST_DIR / "crt" / "crt1.c"
        jobs.append(_Job(crt1, lib / "crt1.o"))
        jobs.append(_Job(crt1, lib / "crt1-envp.o", ("-DLIND_MAIN_ENVP",)))
        if stream is not None:
            stream.write(f"lind_async: building the lind-musl sysroot ({len(jobs)} files) "
                         f"in {target}\n")
            stream.flush()
        bar = _Progress(len(jobs), "musl", stream)

        def compile_one(job: _Job) -> None:
            _run(zig("clang", *MUSL_CFLAGS, *job.defines, *incs,
                     "-c", str(job.source), "-o", str(job.obj)),
                 f"compiling {job.source}")

        _parallel(jobs, compile_one, bar)

        objects = sorted(str(p) for p in obj.glob("*.o"))
        _run(zig("ar", "rcs", str(lib / "libc.a"), *objects), "creating libc.a")
        for name in _EMPTY_LIBS:  # all of it is in libc.a; these let -lm & co. link
            _run(zig("ar", "rcs", str(lib / f"lib{name}.a")), f"creating lib{name}.a")
        _build_compiler_rt(lib / "libcompiler_rt.a", target.parent / "zig-cache")
        shutil.rmtree(obj)
        shutil.rmtree(gen)
        elapsed = time.monotonic() - started
        (tmp / "sysroot.json").write_text(json.dumps({
            "hash": target.name.removeprefix("sysroot-"),
            "musl": MUSL_VERSION,
            "ziglang": ziglang_version(),
            "cflags": list(MUSL_CFLAGS),
            "sources": len(sources),
            "build_seconds": round(elapsed, 1),
        }, indent=2) + "\n")
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "lib" / "libc.a").is_file():
                raise
        if stream is not None:
            stream.write(f"lind_async: sysroot ready in {elapsed:.0f}s\n")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _build_compiler_rt(output: Path, zig_cache: Path) -> None:
    _run(zig("build-lib", "-target", "wasm32-freestanding", f"-mcpu={COMPILER_RT_CPU}",
             "-OReleaseFast", "-fstrip", "-fno-emit-h", "--name", "compiler_rt",
             "--cache-dir", str(zig_cache), "--global-cache-dir", str(zig_cache),
             str(zig_lib_dir() / "compiler_rt.zig"), f"-femit-bin={output}"),
         "building compiler-rt")
    # build-lib leaves the archive's object beside it.
    output.with_name(output.name + ".o").unlink(missing_ok=True)
