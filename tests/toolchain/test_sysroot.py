from __future__ import annotations

import json
from pathlib import Path

import pytest

from lind_async.toolchain import sysroot as sr


def test_sysroot_has_libc_crt_and_headers(sysroot: Path) -> None:
    for rel in (
        "lib/libc.a",
        "lib/crt1.o",
        "lib/crt1-envp.o",
        "lib/libcompiler_rt.a",
        "include/stdio.h",
        "include/bits/alltypes.h",
        "include/bits/syscall.h",
        "include/bits/stat.h",
        "sysroot.json",
    ):
        assert (sysroot / rel).is_file(), rel
    info = json.loads((sysroot / "sysroot.json").read_text())
    assert info["sources"] > 1300
    assert sysroot.name == f"sysroot-{sr.sysroot_hash()}"


def test_syscall_header_uses_x86_64_numbers(sysroot: Path) -> None:
    text = (sysroot / "include" / "bits" / "syscall.h").read_text()
    assert "#define SYS_write                        1\n" in text
    assert "#define __NR_newfstatat" in text
    assert "#define SYS_futex_time64                 SYS_futex" in text


def test_cache_dir_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIND_ASYNC_CACHE_DIR", str(tmp_path / "c"))
    assert sr.cache_root() == tmp_path / "c"
    monkeypatch.delenv("LIND_ASYNC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert sr.cache_root() == tmp_path / "x" / "lind_async"


def test_hash_changes_when_the_guest_layer_changes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = sr.sysroot_hash()
    fake = tmp_path / "guest"
    fake.mkdir()
    (fake / "x.h").write_text("/* edited */\n")
    monkeypatch.setattr(sr, "GUEST_DIR", fake)
    assert sr.sysroot_hash() != before


def test_expand_alltypes_matches_musl_notation() -> None:
    out = sr.expand_alltypes(
        "TYPEDEF unsigned _Addr size_t;\nSTRUCT iovec { void *b; size_t n; };\n"
    )
    assert "#if defined(__NEED_size_t) && !defined(__DEFINED_size_t)" in out
    assert "typedef unsigned _Addr size_t;" in out
    assert "struct iovec { void *b; size_t n; };" in out
    assert "#define __DEFINED_struct_iovec" in out
