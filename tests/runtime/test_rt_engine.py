"""Engine configuration and the compiled-module cache."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import wasmtime

from lind_async.wasm import EngineConfig, LindEngine, ModuleError


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_wasm_stack"):
        EngineConfig(async_stack_size=1 << 20, max_wasm_stack=1 << 20).validate()
    with pytest.raises(ValueError):
        LindEngine(EngineConfig(time_slice=0))
    EngineConfig(memory_reservation=64 << 20).validate()


def test_bad_inputs_raise_module_error(
    tmp_path: Path, engine: LindEngine, guest_wasm: bytes
) -> None:
    with pytest.raises(ModuleError, match="bad magic"):
        engine.load_module(b"hello world, not wasm")
    with pytest.raises(ModuleError, match="invalid WebAssembly"):
        engine.load_module(guest_wasm[: len(guest_wasm) // 2])
    with pytest.raises(ModuleError, match="invalid WebAssembly"):
        engine.load_module(b"\0asm\x01\0\0\0\x99\x99\x99")
    with pytest.raises(ModuleError, match="cannot read"):
        engine.load_module(tmp_path / "missing.wasm")
    text = tmp_path / "prog.wasm"
    text.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(ModuleError, match="bad magic"):
        engine.load_module(text)
    with pytest.raises(ModuleError):
        engine.load_module(b"")


def test_memory_cache_returns_same_module(engine: LindEngine, guest_wasm: bytes) -> None:
    assert engine.load_module(guest_wasm) is engine.load_module(bytearray(guest_wasm))


def test_disk_cache(tmp_path: Path, guest_wasm: bytes) -> None:
    cache = tmp_path / "cache"
    wasm = tmp_path / "g.wasm"
    wasm.write_bytes(guest_wasm)
    e1 = LindEngine(EngineConfig(cache_dir=cache))
    m1 = e1.load_module(wasm)
    entries = list(cache.glob("*.cwasm"))
    assert len(entries) == 1
    assert entries[0].name == f"{e1.cache_key(guest_wasm)}.cwasm"

    e2 = LindEngine(EngineConfig(cache_dir=cache))
    t = time.perf_counter()
    m2 = e2.load_module(wasm)
    assert time.perf_counter() - t < 0.5
    assert [e.name for e in m2.exports] == [e.name for e in m1.exports]

    # different engine settings -> different key
    e3 = LindEngine(EngineConfig(cache_dir=cache, max_wasm_stack=512 << 10))
    assert e3.cache_key(guest_wasm) != e1.cache_key(guest_wasm)

    # a corrupt cache entry is recompiled and overwritten. (Replace, never rewrite in
    # place: loaded modules mmap their file and a truncation under them is a SIGBUS.)
    tmp = cache / "tmp"
    tmp.write_bytes(b"\x7fELF garbage")
    tmp.replace(entries[0])
    e4 = LindEngine(EngineConfig(cache_dir=cache))
    e4.load_module(wasm)
    assert entries[0].read_bytes()[:4] == b"\x7fELF"
    assert len(entries[0].read_bytes()) > 100
    for e in (e1, e2, e3, e4):
        e.ticker.stop()


FORK_TABLE_GROW = """(module
  (import "lind" "fork" (func (result i64)))
  (import "env" "memory" (memory 1 1 shared))
  (table 1 funcref)
  (func (export "grow") (drop (table.grow (ref.null func) (i32.const 1)))))"""


def test_resettable_answer_kept_by_analysis_version(tmp_path: Path) -> None:
    """Whether a fork module's instances may be kept (``instructions.state_in_exports``) is
    kept beside the compiled module under the analysis's version: an older version's answer
    (here a wrong "yes" for a module that grows its table) is not read; this one's is."""
    from lind_async.wasm import instructions

    cache = tmp_path / "cache"
    wasm = wasmtime.wat2wasm(FORK_TABLE_GROW)
    e1 = LindEngine(EngineConfig(cache_dir=cache))
    key = e1.cache_key(wasm)
    cache.mkdir()
    (cache / f"{key}.state").write_bytes(b"1")  # (what version 1 kept, under its name)
    assert not e1.resettable(e1.load_module(wasm))
    kept = cache / f"{key}.state{instructions.VERSION}"
    assert kept.read_bytes() == b"0"
    kept.write_bytes(b"1")  # (the cache is trusted as the compiled code is)
    e2 = LindEngine(EngineConfig(cache_dir=cache))
    assert e2.resettable(e2.load_module(wasm))
    for e in (e1, e2):
        e.ticker.stop()


def test_precompile_and_load_cwasm(tmp_path: Path, engine: LindEngine, guest_wasm: bytes) -> None:
    out = engine.precompile(guest_wasm, tmp_path / "g.cwasm")
    mod = engine.load_module(out)
    assert isinstance(mod, wasmtime.Module)
    assert "sys" in [e.name for e in mod.exports]
    mod2 = engine.load_module(out.read_bytes())
    assert "sys" in [e.name for e in mod2.exports]

    data = out.read_bytes()
    trunc = tmp_path / "trunc.cwasm"
    trunc.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModuleError, match="precompiled"):
        engine.load_module(trunc)

    # a .cwasm from an engine with incompatible settings is refused cleanly
    other = LindEngine(EngineConfig(memory_reservation=64 << 20))
    foreign = other.precompile(guest_wasm, tmp_path / "other.cwasm")
    other.ticker.stop()
    with pytest.raises(ModuleError, match="memory reservation"):
        engine.load_module(foreign)
