"""Bad input to `run` gets a one-line error and a non-zero status, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import wasmtime

from tests.e2e.conftest import REPO


def lind_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lind_async", "run", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_file(tmp_path: Path) -> None:
    proc = lind_run(str(tmp_path / "nope.wasm"))
    assert_one_line_error(proc, "nope.wasm", "no such file")
    assert proc.returncode == 127


def test_truncated_module(cage_program: Any, tmp_path: Path) -> None:
    data = cage_program("hello").read_bytes()
    cut = tmp_path / "cut.wasm"
    cut.write_bytes(data[: len(data) // 2])
    proc = lind_run(str(cut))
    assert_one_line_error(proc, "cut.wasm", "invalid WebAssembly")


def test_not_wasm(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wasm"
    junk.write_text("#!/bin/sh\necho hi\n")
    assert_one_line_error(lind_run(str(junk)), "not a WebAssembly module")


def test_module_for_a_different_abi(tmp_path: Path) -> None:
    wasi = tmp_path / "wasi.wasm"
    wasi.write_bytes(
        wasmtime.wat2wasm(
            '(module (import "wasi_snapshot_preview1" "fd_write"'
            " (func (param i32 i32 i32 i32) (result i32)))"
            ' (memory (export "memory") 1) (func (export "_start")))'
        )
    )
    assert_one_line_error(lind_run(str(wasi)), "different ABI", "wasi_snapshot_preview1.fd_write")


def test_bad_root(cage_program: Any, tmp_path: Path) -> None:
    proc = lind_run("--root", str(tmp_path / "missing"), str(cage_program("hello")))
    assert_one_line_error(proc, "missing")


def test_compile_error_in_c_source(tmp_path: Path) -> None:
    src = tmp_path / "broken.c"
    src.write_text("int main(void) { return undefined_name; }\n")
    proc = lind_run(str(src))
    assert proc.returncode != 0
    assert "undefined_name" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_compiles_c_sources(tmp_path: Path) -> None:
    src = tmp_path / "tiny.c"
    src.write_text(
        '#include <stdio.h>\nint main(int c, char **v) { printf("%s!\\n", v[1]); return 4; }\n'
    )
    proc = lind_run("--root", str(tmp_path), str(src), "compiled")
    assert proc.stdout == "compiled!\n"
    assert proc.returncode == 4


def test_directory(tmp_path: Path) -> None:
    """As a shell says of a directory: found, not runnable, 126."""
    proc = lind_run(str(tmp_path))
    assert_one_line_error(proc, str(tmp_path), "is a directory")
    assert proc.returncode == 126


def test_native_executable() -> None:
    proc = lind_run(sys.executable)
    assert_one_line_error(proc, "native executable, not a cage module")
    assert proc.returncode == 126


def test_bare_run_asks_for_a_program() -> None:
    proc = lind_run()
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "PROGRAM" in last and "args" not in last


def test_crash_report_names_the_program(tmp_path: Path) -> None:
    """A trap's report names the program the user ran, never a compiler's temporary file."""
    src = tmp_path / "crasher.c"
    src.write_text("int main(void) { __builtin_trap(); }\n")
    proc = lind_run("--root", str(tmp_path), str(src))
    assert proc.returncode == 128 + 4  # SIGILL, as the native build
    frames = [line for line in proc.stderr.splitlines() if " - " in line and "!" in line]
    assert frames, proc.stderr
    assert all(f"{src}!" in line for line in frames), proc.stderr
    assert ".tmp" not in proc.stderr


def test_run_help_lists_every_builtin_grate() -> None:
    from lind_async.threei.python_grates import BUILTIN_GRATES

    proc = subprocess.run([sys.executable, "-m", "lind_async", "run", "--help"],
                          capture_output=True, text=True, cwd=REPO, timeout=60, check=True)
    listed = {line.split()[0].split(":")[0].split("[")[0]
              for line in proc.stdout.splitlines() if line.startswith("  ") and line.strip()}
    assert set(BUILTIN_GRATES) <= listed, set(BUILTIN_GRATES) - listed


def test_precompiled_module_is_not_mistaken_for_a_native_executable(
    cage_program: Any, tmp_path: Path
) -> None:
    from lind_async.wasm.engine import EngineConfig, LindEngine

    cwasm = LindEngine(EngineConfig()).precompile(cage_program("hello"), tmp_path / "h.cwasm")
    proc = lind_run("--root", str(tmp_path), str(cwasm))
    assert proc.returncode == 3 and proc.stdout.startswith("hello from a cage\n"), proc.stderr
