"""Real builds with lind-cc: an autoconf project (cross-compiled: ``--host``) and a CMake project
(the toolchain file ``lind-cc --print-cmake-toolchain`` prints), each configured, built with make
and run in a cage; the program prints what the configure checks found."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .wasm_runner import run

PROJECTS = Path(__file__).parent / "projects"
BIN = Path(sys.executable).parent
HOST = "wasm32-unknown-linux-musl"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is required for the build-system tests (.ci/run installs it)")
    return path


def _sh(*cmd: str, cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(PROJECTS / name, tmp_path / name))


CHECKS = [  # what the configure checks found, as the program reports them
    "unistd.h=yes",
    "sys/stat.h=yes",
    "lind_no_such_header.h=no",
    "getpid=yes",
    "fork=yes",
    "strlcpy=yes",
    "lind_no_such_function=no",
    "linux=yes",  # AC_PREPROC_IFELSE on __linux__
    "hosted=yes",  # AC_EGREP_CPP on __STDC_HOSTED__
    "bigendian=no",
    # AC_CHECK_SIZEOF found the cage's ILP32 sizes, not the build machine's
    "sizeof(long)=4 runtime=4",
    "sizeof(void *)=4 runtime=4",
    "sizeof(time_t)=8 runtime=8",
]


def _autoconf(tmp_path: Path, *args: str) -> tuple[str, list[str]]:
    """Configure the autoconf project with ``args``, build it, run it: (configure's output,
    the program's lines)."""
    src = _copy("autoconf", tmp_path)
    _sh(_tool("autoheader"), cwd=src)
    _sh(_tool("autoconf"), cwd=src)
    configured = _sh("./configure", *args, f"CC={BIN / 'lind-cc'}", f"AR={BIN / 'lind-ar'}",
                     f"RANLIB={BIN / 'lind-ranlib'}", cwd=src)
    assert "checking for C compiler default output file name... a.out\n" in configured
    _sh(_tool("make"), cwd=src)
    result = run(src / "lindconf", ["lindconf"])
    assert result.exit_code == 0, result.stderr
    return configured, result.stdout.decode().splitlines()


def test_autoconf_project_cross_compiles_and_runs(sysroot: Path, tmp_path: Path) -> None:
    configured, lines = _autoconf(tmp_path, f"--host={HOST}", "--build=x86_64-pc-linux-gnu")
    assert "checking whether we are cross compiling... yes\n" in configured
    assert lines == [*CHECKS, "ran=cross status=cross"]


def test_autoconf_native_configure_runs_its_programs(sysroot: Path, tmp_path: Path) -> None:
    """Plain ./configure CC=lind-cc: ./conftest runs (in a cage, through its #! line), so
    configure is not cross-compiling, AC_RUN_IFELSE runs its programs (one writes a file the
    check reads, one fails with status 3) and AC_CHECK_SIZEOF runs rather than bisects."""
    configured, lines = _autoconf(tmp_path)
    assert "checking whether we are cross compiling... no\n" in configured
    assert lines == [*CHECKS, "ran=42 status=nonzero"]



def test_cmake_project_builds_and_runs(sysroot: Path, tmp_path: Path) -> None:
    src = _copy("cmake", tmp_path)
    toolchain = tmp_path / "lind.cmake"
    proc = subprocess.run([str(BIN / "lind-cc"), "--print-cmake-toolchain"], capture_output=True,
                          text=True, check=True)
    toolchain.write_text(proc.stdout)
    cmake = _tool("cmake")
    _sh(cmake, "-S", str(src), "-B", str(src / "build"), f"-DCMAKE_TOOLCHAIN_FILE={toolchain}",
        "-DCMAKE_BUILD_TYPE=Release", cwd=src)
    _sh(cmake, "--build", str(src / "build"), cwd=src)
    result = run(src / "build" / "lindcmake", ["lindcmake"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        "unistd.h=yes",
        "lind_no_such_header.h=no",
        "getpid=yes",
        "lind_no_such_function=no",
        "linux=yes",  # check_symbol_exists(__linux__)
        "crosscompiling=yes",
        "ran_ilp32=yes",  # check_c_source_runs, through the cage emulator
        "system=Linux/wasm32",
        "sizeof(long)=4 runtime=4",
        "sizeof(void *)=4 runtime=4",
        "sizeof(time_t)=8 runtime=8",
    ]
