"""Instances: shared memory, globals, exports, several Stores over one memory."""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

from lind_async.wasm import (
    HostImports,
    LindEngine,
    SharedMemoryHandle,
    instantiate,
    run_call,
)

from .conftest import Runner


def _imp() -> HostImports:
    return HostImports.lind(lambda inst, args: 0)


def test_globals_and_exports(engine: LindEngine, guest_wasm: bytes, run: Runner[Any]) -> None:
    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imp())
        assert inst.get_global("__stack_pointer") == 65536
        assert inst.get_global("__heap_base") == 4096
        assert inst.get_global("counter64") == -5
        inst.set_global("__stack_pointer", 1234)
        assert inst.get_global("__stack_pointer") == 1234
        inst.set_global("counter64", 2**64 - 2)
        assert inst.get_global("counter64") == -2
        with pytest.raises(wasmtime.WasmtimeError):
            inst.set_global("__heap_base", 1)  # immutable
        with pytest.raises(KeyError):
            inst.get_global("nope")
        with pytest.raises(KeyError):
            inst.func("nope")
        fh = inst.func("add")
        assert fh is inst.func("add")
        assert await run_call(inst, fh, [40, 2]) == [42]
        with pytest.raises(TypeError):
            await run_call(inst, fh, [1])
        assert inst.has_export("_start") and inst.has_export("__stack_pointer")

    run(main())


def test_memory_access_and_growth(engine: LindEngine, guest_wasm: bytes, run: Runner[Any]) -> None:
    async def main() -> None:
        inst = await instantiate(engine, engine.load_module(guest_wasm), _imp())
        mem = inst.memory
        assert mem.size() == 65536 and mem.pages() == 1
        assert mem.max_bytes == 64 * 65536
        base = mem.base
        await run_call(inst, "store32", [16, 0x11223344])
        v = mem.view()
        assert bytes(v[16:20]) == b"\x44\x33\x22\x11"
        v[32:36] = b"\x01\x02\x03\x04"
        assert await run_call(inst, "load32", [32]) == [0x04030201]
        mem.write(100, b"hello")
        assert mem.read(100, 5) == b"hello"
        # host grow
        assert mem.grow(2) == 1
        assert mem.size() == 3 * 65536 and mem.base == base
        assert len(mem.view()) == 3 * 65536
        # guest grow is seen by the host view
        assert await run_call(inst, "grow", [1]) == [3]
        assert await run_call(inst, "size", []) == [4]
        assert len(mem.view()) == 4 * 65536
        mem.view()[4 * 65536 - 4 :] = b"\xff\xff\xff\x7f"
        assert await run_call(inst, "load32", [4 * 65536 - 4]) == [0x7FFFFFFF]
        # beyond the maximum
        assert mem.grow(1000) == -1
        assert await run_call(inst, "grow", [1000]) == [-1]
        with pytest.raises(IndexError):
            mem.write(mem.size() - 2, b"abcd")

    run(main())


def test_two_stores_share_one_memory(
    engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    async def main() -> None:
        mod = engine.load_module(guest_wasm)
        a = await instantiate(engine, mod, _imp())
        b = await instantiate(engine, mod, _imp(), memory=a.memory)
        assert b.memory is a.memory
        assert a.store != b.store
        await run_call(a, "store32", [64, 777])
        assert await run_call(b, "load32", [64]) == [777]
        await run_call(b, "store32", [68, 888])
        assert await run_call(a, "load32", [68]) == [888]
        # globals are per instance
        a.set_global("__stack_pointer", 1000)
        assert b.get_global("__stack_pointer") == 65536
        # growth through one store is visible through the other
        assert await run_call(a, "grow", [1]) == [1]
        assert await run_call(b, "size", []) == [2]
        # the memory outlives a closed store
        a.close()
        assert await run_call(b, "load32", [64]) == [777]

    run(main())


def test_standalone_memory(engine: LindEngine, guest_wasm: bytes, run: Runner[Any]) -> None:
    async def main() -> None:
        mod = engine.load_module(guest_wasm)
        mem = SharedMemoryHandle.for_module(engine, mod)
        mem.write(8, b"\x05\0\0\0")
        inst = await instantiate(engine, mod, _imp(), memory=mem)
        assert await run_call(inst, "load32", [8]) == [5]

    run(main())


def test_unshared_memory_rejected(engine: LindEngine, run: Runner[Any]) -> None:
    wasm = wasmtime.wat2wasm('(module (import "env" "memory" (memory 1 2)))')

    async def main() -> None:
        with pytest.raises(ValueError, match="shared"):
            await instantiate(engine, engine.load_module(wasm), _imp())

    run(main())


def test_missing_import_is_a_clean_error(engine: LindEngine, run: Runner[Any]) -> None:
    wasm = wasmtime.wat2wasm(
        '(module (import "env" "memory" (memory 1 2 shared))'
        ' (import "lind" "other" (func (param i32))))'
    )

    async def main() -> None:
        with pytest.raises(Exception, match="other"):
            await instantiate(engine, engine.load_module(wasm), _imp())

    run(main())
