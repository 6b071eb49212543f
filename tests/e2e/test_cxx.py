"""C++ programs built with ``lind-c++`` (libc++, libc++abi, libunwind over lind-musl) and run in
cages, compared with the same sources built natively by g++ (libstdc++).

The programs print only what both standard libraries agree on (no ``what()`` texts of the
library's own exceptions, no mangled names of library types). libc++ is built once into the cache
(a one-time build of ~45 s on an empty cache), never per test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PROGRAMS, run_cage, run_native

CXX_STD = "-std=c++17"


@pytest.fixture(scope="module")
def native_cxx(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Build ``programs/NAME.cpp`` (and extra sources) with the host's g++."""
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.fail("a native C++ compiler (g++) is required for the comparison tests")
    out = tmp_path_factory.mktemp("native-cxx")

    def build(name: str, *extra: str) -> Path:
        exe = out / name
        if not exe.exists():
            sources = [str(PROGRAMS / f"{n}.cpp") for n in (name, *extra)]
            subprocess.run([gxx, "-O1", "-w", CXX_STD, "-pthread", "-o", str(exe), *sources],
                           check=True)
        return exe

    return build


def lind_cxx(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lind_async", "c++", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def cage_cxx() -> Any:
    """Build ``programs/NAME.cpp`` for a cage (cached by content, linked as by lind-c++)."""
    from lind_async.toolchain.cc import compile_cached

    def build(name: str) -> Path:
        return compile_cached(PROGRAMS / f"{name}.cpp", flags=[CXX_STD, "-w"])

    return build


def compare(native: Path, cage: Path, tmp_path: Path, args: list[str] | None = None,
            stdin: bytes | None = None, same_stderr: bool = True) -> tuple[Any, Any]:
    (tmp_path / "n").mkdir()
    (tmp_path / "c").mkdir()
    expected = run_native(native, args or [], root=tmp_path / "n", stdin=stdin)
    got = run_cage(cage, args or [], root=tmp_path / "c", stdin=stdin)
    assert got.stdout.decode() == expected.stdout.decode()
    assert got.status == expected.status, got.stderr.decode()
    if same_stderr:
        assert got.stderr.decode() == expected.stderr.decode()
    return expected, got


def test_exceptions_across_objects(native_cxx: Any, tmp_path: Path) -> None:
    """Two .cpp files compiled separately (-c), linked by lind-c++: throw in one, catch in the
    other, with unwinding destructors, rethrow and function-try-blocks."""
    for src in ("cxx_throw_lib", "cxx_throw_main"):
        r = lind_cxx("-c", CXX_STD, "-w", str(PROGRAMS / f"{src}.cpp"), "-o", f"{src}.o",
                     cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    r = lind_cxx("-o", "throw", "cxx_throw_main.o", "cxx_throw_lib.o", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    expected, _ = compare(native_cxx("cxx_throw_main", "cxx_throw_lib"), tmp_path / "throw",
                          tmp_path)
    assert b"unwind parse_positive" in expected.stdout


@pytest.mark.parametrize("name", ["cxx_exception_ptr", "cxx_rtti", "cxx_threads",
                                  "cxx_static", "cxx_filesystem"])
def test_matches_native(name: str, native_cxx: Any, cage_cxx: Any, tmp_path: Path) -> None:
    compare(native_cxx(name), cage_cxx(name), tmp_path)


def test_exit_runs_static_destructors_not_automatic(native_cxx: Any, cage_cxx: Any,
                                                     tmp_path: Path) -> None:
    expected, _ = compare(native_cxx("cxx_static"), cage_cxx("cxx_static"), tmp_path, ["exit"])
    assert expected.status == 3 and b"destroy automatic" not in expected.stdout


def test_iostream(native_cxx: Any, cage_cxx: Any, tmp_path: Path) -> None:
    expected, _ = compare(native_cxx("cxx_iostream"), cage_cxx("cxx_iostream"), tmp_path,
                          stdin=b"b a b\nc a b\n")
    assert b"a:2 b:3 c:1" in expected.stdout


UNCAUGHT = "libc++abi: terminating due to uncaught exception of type std::runtime_error: "
"""libc++abi's message (g++'s libstdc++ says ``terminate called after throwing …``)."""


@pytest.mark.parametrize("mode", ["uncaught", "noexcept", "handler", "atexit"])
def test_termination_is_sigabrt(mode: str, native_cxx: Any, cage_cxx: Any,
                                tmp_path: Path) -> None:
    """An exception nobody catches (or one leaving a noexcept function, or an atexit handler run
    after main returned) calls std::terminate: SIGABRT (134) as natively, not a wasm trap. The
    messages are each library's own."""
    _, got = compare(native_cxx("cxx_uncaught"), cage_cxx("cxx_uncaught"), tmp_path, [mode],
                     same_stderr=False)
    assert got.status == 134
    err = got.stderr.decode()
    if mode == "uncaught":
        assert UNCAUGHT + "boom" in err
    elif mode == "atexit":
        assert UNCAUGHT + "atexit" in err
    elif mode == "handler":
        assert "custom terminate handler" in err
    else:
        assert "libc++abi: terminating" in err
    assert "wasm backtrace" not in err


@pytest.mark.parametrize(("name", "mode", "what"), [
    ("cxx_thread_uncaught", "std", "std::thread"),
    ("cxx_thread_uncaught", "pthread", "pthread"),
    ("cxx_main3_uncaught", "main", "main"),
    ("cxx_main3_uncaught", "atexit", "atexit handler"),
    ("cxx_main3_uncaught", "atexit-exit", "atexit handler"),
    ("cxx_main3_uncaught", "destructor", "static destructor"),
])
def test_uncaught_outside_two_argument_main_is_sigabrt(name: str, mode: str, what: str,
                                                       native_cxx: Any, cage_cxx: Any,
                                                       tmp_path: Path) -> None:
    """An exception leaving a thread's function (std::thread or a pthread_create start routine),
    a three-argument main, or an atexit handler or static destructor run by exit also calls
    std::terminate: SIGABRT, with libc++abi's message, as natively with libstdc++'s."""
    expected, got = compare(native_cxx(name), cage_cxx(name), tmp_path, [mode],
                            same_stderr=False)
    assert expected.status == got.status == 134
    err = got.stderr.decode()
    assert UNCAUGHT + what in err, err
    assert "wasm backtrace" not in err and "crashed" not in err


def test_three_argument_main_returns(native_cxx: Any, cage_cxx: Any, tmp_path: Path) -> None:
    """The three-argument main gets its environment and exits normally when nothing throws."""
    expected, _ = compare(native_cxx("cxx_main3_uncaught"), cage_cxx("cxx_main3_uncaught"),
                          tmp_path, ["none"])
    assert expected.status == 0 and b"environment given" in expected.stdout


def test_lind_cc_compiles_cpp_but_links_only_with_lind_cxx(tmp_path: Path) -> None:
    """gcc compiles .cpp but does not link the C++ library; g++ (lind-c++) does."""
    src = PROGRAMS / "cxx_rtti.cpp"
    cc = subprocess.run([sys.executable, "-m", "lind_async", "cc", "-c", str(src), "-o", "r.o"],
                        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert cc.returncode == 0, cc.stderr
    link = subprocess.run([sys.executable, "-m", "lind_async", "cc", "r.o"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert link.returncode != 0 and "undefined symbol" in link.stderr
    r = lind_cxx("r.o", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a.out").is_file()
