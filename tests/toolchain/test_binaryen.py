"""The post-link passes: asyncify only for programs that fork, exnref only for setjmp users."""

from __future__ import annotations

from pathlib import Path

import pytest

from lind_async.toolchain import binaryen, cc
from lind_async.toolchain.validate import post_link_needs, read_interface
from lind_async.toolchain.zig import ToolchainError

PLAIN = '#include <stdio.h>\nint main(void) { printf("hi\\n"); return 0; }\n'
FORKS = "#include <unistd.h>\nint main(void) { return fork() < 0; }\n"
JUMPS = (
    "#include <setjmp.h>\nstatic jmp_buf b;\n"
    "int main(void) { volatile int n = 0; if (setjmp(b) < 2) longjmp(b, ++n); return n; }\n"
)


def _build(tmp_path: Path, name: str, source: str) -> bytes:
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    return cc.compile_program([src], tmp_path / f"{name}.wasm").read_bytes()


def test_plain_program_needs_no_pass(tmp_path: Path) -> None:
    data = _build(tmp_path, "plain", PLAIN)
    assert post_link_needs(data) == (False, False)
    _, exports = read_interface(data)
    assert not any(e.name.startswith("asyncify") for e in exports)


def test_fork_program_is_asyncified(tmp_path: Path) -> None:
    data = _build(tmp_path, "forks", FORKS)
    assert post_link_needs(data)[0]
    names = {e.name for e in read_interface(data)[1]}
    assert set(binaryen.ASYNCIFY_EXPORTS) <= names
    assert set(binaryen.ASYNCIFY_GLOBALS) <= names


def test_setjmp_program_uses_exceptions(tmp_path: Path) -> None:
    data = _build(tmp_path, "jumps", JUMPS)
    assert post_link_needs(data) == (False, True)


def test_missing_wasm_opt_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LIND_ASYNC_WASM_OPT", raising=False)
    monkeypatch.setenv("LIND_ASYNC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(binaryen.shutil, "which", lambda name: None)
    binaryen.forget()
    try:
        with pytest.raises(ToolchainError) as info:
            binaryen.wasm_opt()
    finally:
        binaryen.forget()
    message = str(info.value)
    assert "\n" not in message and "npm" in message and "wasm-opt" in message
