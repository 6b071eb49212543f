"""C++ for cage programs: LLVM's libc++, libc++abi and libunwind, built once against lind-musl.

Theory of operation
-------------------
The pinned ziglang wheel ships the sources of all three (``lib/libcxx``, ``lib/libcxxabi``,
``lib/libunwind``, LLVM 18). zig patches libc++'s ``<__config>`` not to include a
``<__config_site>`` and passes the site configuration as ``-D`` flags instead; we do the same
(:data:`CONFIG_DEFINES`), on every C++ compile: the library's own and the user's.

The configuration:

* **exceptions** through WebAssembly exception handling (``-fwasm-exceptions``): clang 18 emits the
  legacy ``try``/``catch`` instructions, which the link step translates to exnref with Binaryen as
  it does for setjmp (``--translate-to-exnref``; C++ landing pads need multivalue blocks, so
  ``--enable-multivalue``). ``__USING_WASM_EXCEPTIONS__`` selects the wasm personality in
  libc++abi and ``Unwind-wasm.c``, the only libunwind source a wasm target needs (``_Unwind_*``
  over ``__builtin_wasm_throw``), as Emscripten builds them;
* **threads** on, with the pthread API (lind-musl's pthreads: ``std::thread``, ``mutex``,
  ``condition_variable``, thread-safe statics);
* musl as the C library (``_LIBCPP_HAS_MUSL_LIBC``), locales and wide characters on (iostreams),
  ``<filesystem>`` built (it is plain POSIX underneath), the incomplete time-zone database left out
  (``tz.cpp``, ``tzdb_list.cpp``);
* ``operator new``/``delete`` come from libc++ (``new.cpp``), not libc++abi's copy.

The archives are built on first use into ``<cache>/libcxx-<hash>/lib`` (``libc++.a``,
``libc++abi.a``, ``libunwind.a``), with a progress bar like the sysroot's, in a temporary sibling
directory renamed into place when complete. ``<hash>`` covers the sysroot's hash (the C headers and
flags), this module's source and the ziglang version. Headers are used in place from the wheel.
"""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lind_async.toolchain.sysroot import (
    Sysroot,
    SysrootError,
    _Job,
    _parallel,
    _Progress,
    _run,
    cache_root,
    ensure_sysroot,
)
from lind_async.toolchain.target import PROGRAM_TARGET_CFLAGS, program_cflags
from lind_async.toolchain.zig import zig, zig_lib_dir, ziglang_version

LANGUAGES = frozenset({"c++", "c++-header", "c++-cpp-output"})
"""gcc's ``-x`` names that are C++."""

CONFIG_DEFINES: tuple[str, ...] = (
    "-D_LIBCPP_ABI_VERSION=1",
    "-D_LIBCPP_ABI_NAMESPACE=__1",
    "-D_LIBCPP_HAS_MUSL_LIBC",
    "-D_LIBCPP_HAS_NO_VENDOR_AVAILABILITY_ANNOTATIONS",
    "-D_LIBCPP_PSTL_CPU_BACKEND_SERIAL",
    "-D_LIBCPP_HARDENING_MODE_DEFAULT=_LIBCPP_HARDENING_MODE_NONE",
    "-D__USING_WASM_EXCEPTIONS__",
)
"""libc++'s ``__config_site``, as ``-D`` flags (zig's way), for every C++ compile."""

EXCEPTION_CFLAGS: tuple[str, ...] = ("-fwasm-exceptions",)
"""C++ exceptions as WebAssembly exception handling."""

LIB_CXXFLAGS: tuple[str, ...] = (
    *PROGRAM_TARGET_CFLAGS, *EXCEPTION_CFLAGS, *CONFIG_DEFINES,
    "-O2", "-DNDEBUG", "-std=c++23", "-D__linux__=1", "-D_LIBCPP_BUILDING_LIBRARY",
    "-D_LIBCXXABI_BUILDING_LIBRARY", "-DLIBCXX_BUILDING_LIBCXXABI",
    "-ffunction-sections", "-fdata-sections",
    "-fvisibility-inlines-hidden", "-Wno-user-defined-literals", "-Qunused-arguments",
)
"""Flags for building the three libraries."""

PATCHES: dict[str, tuple[tuple[str, str], ...]] = {
    # A C++ destructor returns ``this`` on wasm, so libc++abi stores and calls exception
    # destructors as ``void *(void *)`` (``__USING_WASM_EXCEPTIONS__``); LLVM 18 still declares
    # __cxa_init_primary_exception (and make_exception_ptr's destructor) ``void (void *)``: a
    # compile error in libc++abi, and a signature-mismatch trap when an exception_ptr made by
    # std::make_exception_ptr is destroyed. LLVM 19's fix, applied to our copies.
    "libcxx/include/__exception/exception_ptr.h": (
        ("""    void(
#  if defined(_WIN32)
        __thiscall
#  endif
            *)(void*)) throw();""",
         """#  if defined(__USING_WASM_EXCEPTIONS__)
    void* (*)(void*)) throw();
#  else
    void(
#    if defined(_WIN32)
        __thiscall
#    endif
            *)(void*)) throw();
#  endif"""),
        ("""[](void* __p) {
    std::__destroy_at(static_cast<_Ep2*>(__p));
  });""",
         """[](void* __p)
#    if defined(__USING_WASM_EXCEPTIONS__)
  -> void* {
    std::__destroy_at(static_cast<_Ep2*>(__p));
    return __p;
#    else
  {
    std::__destroy_at(static_cast<_Ep2*>(__p));
#    endif
  });"""),
    ),
    "libcxxabi/include/cxxabi.h": (
        ("__cxa_init_primary_exception(void* object, std::type_info* tinfo, "
         "void(_LIBCXXABI_DTOR_FUNC* dest)(void*)) throw();",
         """__cxa_init_primary_exception(void* object, std::type_info* tinfo,
#ifdef __USING_WASM_EXCEPTIONS__
                             void*(_LIBCXXABI_DTOR_FUNC* dest)(void*)) throw();
#else
                             void(_LIBCXXABI_DTOR_FUNC* dest)(void*)) throw();
#endif"""),
    ),
    "libcxxabi/src/cxa_exception.cpp": (
        ("""__cxa_exception* __cxa_init_primary_exception(void* object, std::type_info* tinfo,
                                              void(_LIBCXXABI_DTOR_FUNC* dest)(void*)) throw() {""",
         """__cxa_exception* __cxa_init_primary_exception(void* object, std::type_info* tinfo,
#ifdef __USING_WASM_EXCEPTIONS__
                                              void*(_LIBCXXABI_DTOR_FUNC* dest)(void*)) throw() {
#else
                                              void(_LIBCXXABI_DTOR_FUNC* dest)(void*)) throw() {
#endif"""),
    ),
}
"""Edits to the wheel's sources (``old``, ``new`` pairs; each ``old`` must occur once)."""

_LIBCXX_SKIP = frozenset({"tz.cpp", "tzdb_list.cpp"})
_LIBCXXABI_SKIP = frozenset({"cxa_noexception.cpp", "stdlib_new_delete.cpp"})
_LIBUNWIND_SOURCES = ("Unwind-wasm.c",)
FUTEX_H = """\
/* Written by lind_async.toolchain.libcxx for building libc++'s atomic.cpp (std::atomic::wait
 * over futex(2), a system call the cage runtime implements). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
"""
ENTRY_GUARD = """\
// Written by lind_async.toolchain.libcxx. lind-musl runs each way into the module (_start, around
// main and exit; a thread's function; a signal handler) through this hook when a program has it:
// a C++ exception that nobody catches is caught here and std::terminate called with it current
// (the default handler names its type and what()). Natively the failed search for a handler
// calls std::terminate; a wasm exception nobody catches would leave the module as a trap.
#include <exception>
extern "C" int __lind_entry_guard(int (*fn)(void *), void *arg) {
  try {
    return fn(arg);
  } catch (...) {
    std::terminate();
  }
}
"""
ENTRY_GUARD_FLAGS: tuple[str, ...] = ("--undefined=__lind_entry_guard",)
"""Linker flags for a C++ program: lind-musl's reference to the guard is weak, so this loads it."""

ARCHIVES = ("libc++.a", "libc++abi.a", "libunwind.a")
"""In link order."""


def source_dir(name: str) -> Path:
    """``libcxx``, ``libcxxabi`` or ``libunwind`` in the ziglang wheel."""
    return zig_lib_dir() / name


def cxx_flags(flags: Sequence[str], libcxx: LibCxx) -> list[str]:
    """``flags`` (a program's compile flags, ending with the user's) for C++: libc++'s headers
    searched before libc's, the site configuration and wasm exceptions before the user's flags."""
    out = list(flags)
    try:
        at = out.index("-isystem")
    except ValueError:
        at = len(out)
    extra = [*EXCEPTION_CFLAGS, *CONFIG_DEFINES, "-isystem", str(libcxx.include)]
    return [*out[:at], *extra, *out[at:]]


def program_cxxflags(sysroot: Sysroot, libcxx: LibCxx, flags: Sequence[str] = ()) -> list[str]:
    """clang flags for one C++ cage program object (user ``flags`` last, so they win)."""
    return cxx_flags(program_cflags(sysroot, flags), libcxx)


def libcxx_hash(sysroot: Sysroot) -> str:
    h = hashlib.sha256()
    for part in (sysroot.hash, inspect.getsource(sys.modules[__name__]), ziglang_version(),
                 "\0".join(LIB_CXXFLAGS)):
        h.update(f"{len(part)}\0{part}".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class LibCxx:
    """The built archives (``libs`` in link order)."""

    path: Path

    @property
    def include(self) -> Path:
        """libc++'s headers and libc++abi's ``cxxabi.h`` (patched copies)."""
        return self.path / "include" / "c++" / "v1"

    @property
    def lib(self) -> Path:
        return self.path / "lib"

    @property
    def libs(self) -> list[Path]:
        return [self.lib / name for name in ARCHIVES]


_lock = threading.Lock()


def ensure_libcxx(sysroot: Sysroot | None = None, *, progress: bool = True) -> LibCxx:
    """The libc++ build for ``sysroot`` (the current lind-musl by default), built if needed."""
    sr = sysroot or Sysroot(ensure_sysroot(progress=progress))
    target = cache_root() / f"libcxx-{libcxx_hash(sr)}"
    with _lock:
        if not all((target / "lib" / name).is_file() for name in ARCHIVES):
            target.parent.mkdir(parents=True, exist_ok=True)
            # one build at a time across processes (parallel compiles wait for it)
            with open(target.with_name(target.name + ".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not all((target / "lib" / name).is_file() for name in ARCHIVES):
                    _build(sr, target, progress=progress)
    return LibCxx(target)


def patched(rel: str) -> str:
    """The text of ``lib/<rel>`` in the wheel with :data:`PATCHES` applied."""
    text = (zig_lib_dir() / rel).read_text()
    for old, new in PATCHES.get(rel, ()):
        if text.count(old) != 1:
            raise SysrootError(f"cannot patch {rel}: the ziglang wheel's copy differs from the "
                               "one this lind_async knows")
        text = text.replace(old, new)
    return text


def _install_headers(include: Path) -> None:
    shutil.copytree(source_dir("libcxx") / "include", include)
    for h in (source_dir("libcxxabi") / "include").iterdir():
        shutil.copy2(h, include / h.name)
    for rel in PATCHES:
        for prefix in ("libcxx/include/", "libcxxabi/include/"):
            if rel.startswith(prefix):
                (include / rel.removeprefix(prefix)).write_text(patched(rel))


def _jobs(obj: Path, src: Path) -> dict[str, list[_Job]]:
    cxx, abi, unwind = source_dir("libcxx"), source_dir("libcxxabi"), source_dir("libunwind")
    jobs: dict[str, list[_Job]] = {"libc++.a": [], "libc++abi.a": [], "libunwind.a": []}
    libcxx_sources = [p for p in sorted((cxx / "src").glob("*.cpp")) if p.name not in _LIBCXX_SKIP]
    for sub in ("filesystem", "ryu"):
        libcxx_sources += sorted((cxx / "src" / sub).glob("*.cpp"))
    for p in libcxx_sources:
        jobs["libc++.a"].append(_Job(p, obj / f"cxx.{p.parent.name}.{p.stem}.o"))
    for p in sorted((abi / "src").glob("*.cpp")):
        if p.name in _LIBCXXABI_SKIP:
            continue
        rel = f"libcxxabi/src/{p.name}"
        if rel in PATCHES:
            p = src / p.name
            p.write_text(patched(rel))
        jobs["libc++abi.a"].append(_Job(p, obj / f"abi.{p.stem}.o"))
    (src / "lind_entry_guard.cpp").write_text(ENTRY_GUARD)
    jobs["libc++abi.a"].append(_Job(src / "lind_entry_guard.cpp", obj / "abi.lind_entry_guard.o"))
    for name in _LIBUNWIND_SOURCES:
        jobs["libunwind.a"].append(_Job(unwind / "src" / name, obj / f"unwind.{name}.o"))
    return jobs


def _build(sysroot: Sysroot, target: Path, *, progress: bool) -> None:
    stream = sys.stderr if progress else None
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=target.parent))
    try:
        obj, lib, gen, src = tmp / "obj", tmp / "lib", tmp / "gen", tmp / "src"
        for d in (obj, lib, src):
            d.mkdir()
        include = tmp / "include" / "c++" / "v1"
        _install_headers(include)
        (gen / "linux").mkdir(parents=True)
        (gen / "linux" / "futex.h").write_text(FUTEX_H)
        by_archive = _jobs(obj, src)
        jobs = [job for js in by_archive.values() for job in js]
        if stream is not None:
            stream.write(f"lind_async: building libc++, libc++abi and libunwind ({len(jobs)} "
                         f"files, once) in {target}\n")
            stream.flush()
        incs = ["-I", str(gen), "-I", str(source_dir("libcxx") / "src"),
                "-I", str(source_dir("libcxxabi") / "src"), "-isystem", str(include),
                "-isystem", str(source_dir("libunwind") / "include"),
                "-isystem", str(sysroot.include)]

        def compile_one(job: _Job) -> None:
            lang = (["-x", "c", "-std=c11", "-D_LIBUNWIND_HIDE_SYMBOLS"]
                    if job.source.suffix == ".c" else [])
            _run(zig("clang", *LIB_CXXFLAGS, *incs, *lang, "-c", str(job.source),
                     "-o", str(job.obj)), f"compiling {job.source}")

        _parallel(jobs, compile_one, _Progress(len(jobs), "libc++", stream))
        for archive, members in by_archive.items():
            _run(zig("ar", "rcs", str(lib / archive), *(str(j.obj) for j in members)),
                 f"creating {archive}")
        shutil.rmtree(obj)
        shutil.rmtree(gen)
        shutil.rmtree(src)
        elapsed = time.monotonic() - started
        (tmp / "libcxx.json").write_text(json.dumps({
            "sysroot": sysroot.hash, "ziglang": ziglang_version(), "cxxflags": list(LIB_CXXFLAGS),
            "sources": len(jobs), "build_seconds": round(elapsed, 1)}, indent=2) + "\n")
        try:
            tmp.rename(target)
        except OSError:
            if not all((target / "lib" / name).is_file() for name in ARCHIVES):
                raise
        if stream is not None:
            stream.write(f"lind_async: libc++ ready in {elapsed:.0f}s\n")
            stream.flush()
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
