"""The post-link passes: asyncify only for programs that fork, exnref only for setjmp users."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lind_async.toolchain import binaryen, cc, sjlj_throw
from lind_async.toolchain.validate import post_link_needs
from lind_async.toolchain.zig import ToolchainError
from lind_async.wasm.binary import read_interface

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


def test_longjmp_throws_from_its_callers_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link step puts ``__wasm_longjmp``'s body (its libc helper's call and the throw) in
    place of every call of it: main's longjmp and the rethrow of a jump that is not main's
    (tests/e2e's sjlj programs check that jumps still land where they should)."""
    seen: list[tuple[bytes, bytes | None]] = []
    inline = sjlj_throw.inline_longjmp

    def spy(data: bytes) -> bytes | None:
        seen.append((data, inline(data)))
        return seen[-1][1]

    monkeypatch.setattr(sjlj_throw, "inline_longjmp", spy)
    _build(tmp_path, "jumps", JUMPS)
    [(linked, inlined)] = seen
    calls = sjlj_throw.longjmp_calls(linked)
    assert calls is not None and calls >= 2
    assert inlined is not None and sjlj_throw.longjmp_calls(inlined) == 0
    assert sjlj_throw.inline_longjmp(inlined) is None  # nothing left to do


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


def _fake_npm(bin_dir: Path, exit_status: int) -> None:
    """``node`` and an ``npm`` that "installs" an empty wasm-opt script under ``--prefix``."""
    bin_dir.mkdir()
    (bin_dir / "node").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "npm").write_text(
        f"#!{sys.executable}\nimport pathlib, sys\n"
        "prefix = pathlib.Path(sys.argv[sys.argv.index('--prefix') + 1])\n"
        "script = prefix / 'node_modules' / 'binaryen' / 'bin' / 'wasm-opt'\n"
        "script.parent.mkdir(parents=True)\nscript.write_text('')\n"
        f"sys.exit({exit_status})\n")
    for tool in ("node", "npm"):
        (bin_dir / tool).chmod(0o755)


@pytest.fixture
def fake_npm_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.delenv("LIND_ASYNC_WASM_OPT", raising=False)
    monkeypatch.setenv("LIND_ASYNC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    binaryen.forget()
    yield tmp_path
    binaryen.forget()


def test_first_fetch_says_what_why_and_when_done(
    fake_npm_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_npm(fake_npm_env / "bin", 0)
    cmd = binaryen.wasm_opt(why="fork support")
    prefix = fake_npm_env / "cache" / f"binaryen-{binaryen.NPM_VERSION}"
    assert cmd == [str(fake_npm_env / "bin" / "node"),
                   str(prefix / "node_modules" / "binaryen" / "bin" / "wasm-opt")]
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(
        f"lind_async: fetching Binaryen's wasm-opt (npm package binaryen@{binaryen.NPM_VERSION}, "
        f"~{binaryen.NPM_DOWNLOAD_MB} MB) for fork support")
    assert re.fullmatch(r"lind_async: done in \d+s", err[-1])
    binaryen.forget()
    assert binaryen.wasm_opt() == cmd  # installed: no second fetch, nothing said
    assert capsys.readouterr().err == ""


def test_failed_fetch_says_so(fake_npm_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fake_npm(fake_npm_env / "bin", 1)
    with pytest.raises(ToolchainError, match="npm install binaryen@"):
        binaryen.wasm_opt(why="setjmp/longjmp support")
    err = capsys.readouterr().err
    assert "for setjmp/longjmp support" in err and re.search(r"failed in \d+s", err)
    assert not (fake_npm_env / "cache" / f"binaryen-{binaryen.NPM_VERSION}").exists()
