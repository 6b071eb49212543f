"""The cage layer with hand-written WAT programs that follow the lind guest ABI (no toolchain)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import wasmtime

from lind_async.rawposix import table as rawposix_table
from lind_async.runtime.cage import Cage
from lind_async.runtime.world import World
from lind_async.wasm.engine import EngineConfig

SIGILL = 4  # what an `unreachable` trap kills a cage with (wasm/fiber.py: trap_signal)

_PRELUDE = """
  (import "env" "memory" (memory 2 64 shared))
  (import "lind" "syscall" (func $sys (param i32 i64 i64 i64 i64 i64 i64) (result i64)))
  (global $sp (export "__stack_pointer") (mut i32) (i32.const 65536))
  (global (export "__heap_base") i32 (i32.const 65536))
"""


def cage_module(body: str) -> bytes:
    return wasmtime.wat2wasm(f"(module {_PRELUDE} {body})")


WRITE_AND_EXIT = cage_module("""
  ;; above the null page (guest buffers in [0, 4096) are EFAULT, as on Linux)
  (data (i32.const 5120) "hi from wat\\n")
  (func (export "_start")
    ;; argc is at the stack pointer: write it + 48 as a digit after the text
    (i32.store8 (i32.const 5132) (i32.add (i32.load (global.get $sp)) (i32.const 48)))
    (drop (call $sys (i32.const 1) (i64.const 1) (i64.const 5120) (i64.const 13)
                     (i64.const 0) (i64.const 0) (i64.const 0)))
    (drop (call $sys (i32.const 231) (i64.const 7) (i64.const 0) (i64.const 0)
                     (i64.const 0) (i64.const 0) (i64.const 0)))
    unreachable)
""")

RESULTS_TO_MEMORY = cage_module("""
  ;; store the results of a bad write, an unknown call and getpid, then exit 0
  (func (export "_start")
    (i64.store (i32.const 6144) (call $sys (i32.const 1) (i64.const 1) (i64.const 0xFFFFFFF0)
                     (i64.const 100) (i64.const 0) (i64.const 0) (i64.const 0)))
    (i64.store (i32.const 6152) (call $sys (i32.const 999) (i64.const 0) (i64.const 0)
                     (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0)))
    (i64.store (i32.const 6160) (call $sys (i32.const 39) (i64.const 0) (i64.const 0)
                     (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0)))
    (drop (call $sys (i32.const 231) (i64.const 0) (i64.const 0) (i64.const 0)
                     (i64.const 0) (i64.const 0) (i64.const 0))))
""")

TRAPS = cage_module('(func (export "_start") unreachable)')


def microvisor(root: Path) -> World:
    return World(root=root, engine_config=EngineConfig())


def test_exit_status_stdout_and_argv(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    async def main() -> int:
        async with microvisor(tmp_path) as mv:
            return await mv.run(WRITE_AND_EXIT, ["prog", "a", "b"])

    assert asyncio.run(main()) == 7 << 8
    assert capfd.readouterr().out == "hi from wat\n3"


def test_errors_are_negative_errno_and_the_cage_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, int] = {}

    async def main() -> int:
        async with microvisor(tmp_path) as mv:
            cage = mv.spawn(RESULTS_TO_MEMORY, ["prog"])
            # RawPOSIX's exit_group handler, spied on (the syscall entry calls the handler of a
            # cage without routes directly): read the stored results before the memory goes
            handlers = rawposix_table._HANDLERS
            original = handlers[231]

            def spy(call_cage: Cage, *args: int) -> object:
                if call_cage is cage:
                    for name, addr in (("write", 6144), ("unknown", 6152), ("getpid", 6160)):
                        seen[name] = int.from_bytes(cage.mem.read(addr, 8), "little", signed=True)
                return original(call_cage, *args)

            monkeypatch.setitem(handlers, 231, spy)
            await cage.exited.wait()
            assert cage.status is not None
            return cage.cage_id

    cage_id = asyncio.run(main())
    assert seen == {"write": -14, "unknown": -38, "getpid": cage_id}


def test_trap_is_the_cages_crash(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    async def main() -> int:
        async with microvisor(tmp_path) as mv:
            return await mv.run(TRAPS, ["boom"])

    assert asyncio.run(main()) == SIGILL
    assert "cage 1 (boom) crashed" in capfd.readouterr().err


def test_module_for_another_abi_is_refused(tmp_path: Path) -> None:
    from lind_async.wasm.engine import ModuleError

    wasi = wasmtime.wat2wasm(
        '(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))'
        ' (memory (export "memory") 1) (func (export "_start")))'
    )

    async def main() -> None:
        async with microvisor(tmp_path) as mv:
            with pytest.raises(ModuleError, match="different ABI"):
                mv.spawn(wasi, ["x"])

    asyncio.run(main())
