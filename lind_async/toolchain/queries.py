"""The driver's answers to questions about itself: ``--version``, ``-dumpmachine``, ``-print-*``.

Build systems ask these before they compile anything: autoconf logs ``--version``, libtool reads
``-print-search-dirs`` and ``-print-prog-name=``, CMake's ABI checks run ``-v``. Each answer
describes the cage target: the triple is :data:`lind_async.toolchain.target.TRIPLE`, the libraries
are the lind-musl sysroot's, the binutils are ``lind-ar``, ``lind-ranlib`` and ``lind-strip``.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from lind_async import __version__
from lind_async.toolchain import cmake
from lind_async.toolchain.binutils import script_path
from lind_async.toolchain.sysroot import MUSL_VERSION, Sysroot, ensure_sysroot
from lind_async.toolchain.target import TRIPLE
from lind_async.toolchain.zig import ToolchainError, zig, ziglang_version

PROGRAMS = {"cc": "lind-cc", "gcc": "lind-cc", "ar": "lind-ar", "ranlib": "lind-ranlib",
            "strip": "lind-strip"}
"""``-print-prog-name=NAME``: the console script standing in for each tool."""


@functools.cache
def clang_version() -> str:
    """The version of the bundled clang (``18.1.6``)."""
    try:
        proc = subprocess.run(zig("clang", "-dumpversion"), capture_output=True, text=True,
                              check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise ToolchainError(f"cannot run zig clang: {e}") from None
    return proc.stdout.strip()


def version_text() -> str:
    """``--version``: a gcc-style first line, then what is inside."""
    return (f"lind-cc (lind_async {__version__}) {clang_version()}\n"
            f"clang version {clang_version()} (ziglang {ziglang_version()}), "
            f"lind-musl {MUSL_VERSION}\n"
            f"Target: {TRIPLE}\n"
            "Thread model: posix\n")


def _sysroot() -> Sysroot:
    return Sysroot(ensure_sysroot())


def _file_name(name: str) -> str:
    sr = _sysroot()
    for directory in (sr.lib, sr.path):
        if (directory / name).exists():
            return str(directory / name)
    return name


def _search_dirs() -> str:
    sr = _sysroot()
    return (f"install: {sr.path}/\n"
            f"programs: ={Path(script_path('lind-cc')).parent}/\n"
            f"libraries: ={sr.lib}/\n")


_FIXED: dict[str, Callable[[], str]] = {
    "--version": version_text,
    "-dumpversion": clang_version,
    "-dumpfullversion": clang_version,
    "-dumpmachine": lambda: TRIPLE,
    "-print-target-triple": lambda: TRIPLE,
    "-print-effective-triple": lambda: TRIPLE,
    "-print-sysroot": lambda: str(_sysroot().path),
    "--print-sysroot": lambda: str(_sysroot().path),
    "-print-libgcc-file-name": lambda: str(_sysroot().compiler_rt),
    "-print-search-dirs": _search_dirs,
    "-print-multi-directory": lambda: ".",
    "-print-multi-os-directory": lambda: ".",
    "-print-multi-lib": lambda: ".;",
    "-print-multiarch": lambda: "",
    "--print-cmake-toolchain": lambda: cmake.toolchain_file(),
}
_VALUED: dict[str, Callable[[str], str]] = {
    "-print-file-name": _file_name,
    "-print-prog-name": lambda name: script_path(PROGRAMS[name]) if name in PROGRAMS else name,
}


def answer(query: str) -> str:
    """The text ``query`` prints (newline-terminated); :class:`ToolchainError` if unknown."""
    # gcc takes --print-x for -print-x.
    norm = query[1:] if query.startswith("--print-") and query not in _FIXED else query
    name, eq, value = norm.partition("=")
    if eq and name in _VALUED:
        text = _VALUED[name](value)
    elif not eq and norm in _FIXED:
        text = _FIXED[norm]()
    else:
        raise ToolchainError(f"unrecognized command-line option '{query}'")
    return text if text.endswith("\n") else text + "\n"


def answer_all(queries: Sequence[str]) -> str:
    """Every answer, in command-line order."""
    return "".join(answer(q) for q in queries)
