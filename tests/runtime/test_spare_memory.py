"""Spare memories (wasm/instance_memory.py): a memory whose last user is gone is kept, zeroed,
for a fork child instead of deleted — never one a Store may still map, never with the last
cage's bytes, never more than a few. Fiber stacks (wasm/instance_stacks.py) kept likewise."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from lind_async.wasm import (
    EngineConfig,
    HostImports,
    LindEngine,
    instance_memory,
    instance_stacks,
    instantiate,
    run_call,
)
from lind_async.wasm.instance_memory import SharedMemoryHandle, spare_count

from .conftest import Runner


def _imp() -> HostImports:
    return HostImports.lind(lambda inst, args: 0)


@pytest.fixture
def fresh_engine() -> Iterator[LindEngine]:
    eng = LindEngine(EngineConfig(time_slice=0.005))
    yield eng
    eng.ticker.stop()


async def _used_memory(engine: LindEngine, wasm: bytes, *, reusable: bool = True,
                       close: bool = True) -> int:
    """A memory of 2 pages that a cage wrote a secret all over, its Store closed (or not), its
    handle dropped; returns its raw pointer."""
    mod = engine.load_module(wasm)
    mem = SharedMemoryHandle.for_module(engine, mod)
    mem.reusable = reusable
    assert mem.grow(1) == 1
    inst = await instantiate(engine, mod, _imp(), memory=mem)
    for addr in (0, 4096, 65536 - 4, 2 * 65536 - 4):
        await run_call(inst, "store32", [addr, 0x5EC12E7])
    assert mem.stores == 1
    if close:
        inst.close()
        assert mem.stores == 0
    ptr = mem.ptr
    del mem, inst
    gc.collect()
    return ptr


def test_a_spare_is_all_zeros_and_usable(
    fresh_engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    async def main() -> None:
        ptr = await _used_memory(fresh_engine, guest_wasm)
        assert spare_count(fresh_engine) == 1
        mod = fresh_engine.load_module(guest_wasm)
        assert SharedMemoryHandle.spare(fresh_engine, (1, 64), 1) is None  # (another size)
        spare = SharedMemoryHandle.spare(fresh_engine, (1, 64), 2)
        assert spare is not None and spare.ptr == ptr and spare.reusable
        assert spare_count(fresh_engine) == 0
        assert spare.size() == 2 * 65536
        assert bytes(spare.view()) == bytes(2 * 65536)  # nothing of the last cage's
        inst = await instantiate(fresh_engine, mod, _imp(), memory=spare)
        await run_call(inst, "store32", [8, 77])
        assert await run_call(inst, "load32", [8]) == [77]
        assert await run_call(inst, "load32", [4096]) == [0]

    run(main())


def test_never_one_a_store_may_still_map(
    fresh_engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    async def main() -> None:
        await _used_memory(fresh_engine, guest_wasm, close=False)  # its Store was never closed
        assert spare_count(fresh_engine) == 0
        await _used_memory(fresh_engine, guest_wasm, reusable=False)  # not a fork program's
        assert spare_count(fresh_engine) == 0

    run(main())


def test_closed_handles_are_not_kept_and_the_pool_is_bounded(
    fresh_engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    async def main() -> None:
        mod = fresh_engine.load_module(guest_wasm)
        mem = SharedMemoryHandle.for_module(fresh_engine, mod)
        mem.reusable = True
        mem.close()  # (someone may hold a view of it: deleted)
        del mem
        gc.collect()
        assert spare_count(fresh_engine) == 0
        for _ in range(instance_memory.SPARES + 3):
            await _used_memory(fresh_engine, guest_wasm)
        assert spare_count(fresh_engine) == instance_memory.SPARES

    run(main())


def test_fiber_stacks_are_kept_and_bounded(
    fresh_engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    """Stores take their fiber stacks from wasm/instance_stacks.py and give them back when
    deleted: at most ``SPARE`` are kept, and a kept one serves the next Store."""
    async def main() -> None:
        mod = fresh_engine.load_module(guest_wasm)
        live = await asyncio.gather(*(instantiate(fresh_engine, mod, _imp())
                                      for _ in range(instance_stacks.SPARE + 4)))
        for inst in live:
            assert await run_call(inst, "add", [40, 2]) == [42]
        for inst in live:
            inst.close()
        assert instance_stacks.spare_count() == instance_stacks.SPARE
        inst = await instantiate(fresh_engine, mod, _imp())
        assert await run_call(inst, "add", [1, 2]) == [3]
        assert instance_stacks.spare_count() == instance_stacks.SPARE - 1  # (one reused)
        inst.close()
        assert instance_stacks.spare_count() == instance_stacks.SPARE

    run(main())


def test_a_memory_keeps_its_resolved_imports_and_drops_them_with_itself(
    fresh_engine: LindEngine, guest_wasm: bytes, run: Runner[Any]
) -> None:
    """The next instance over a memory (a thread, a fork child with a spare) reuses the
    InstancePre the last one made, never once the imports were redefined; deleting the memory
    deletes it (retiring it as a spare does not)."""
    async def main() -> None:
        mod = fresh_engine.load_module(guest_wasm)
        imp = HostImports.lind(lambda inst, args: 41)
        mem = SharedMemoryHandle.for_module(fresh_engine, mod)
        first = await instantiate(fresh_engine, mod, imp, memory=mem)
        key = (mod, imp, imp.generation)
        pre = instance_memory.pre_of(mem.ptr, key)
        assert pre
        second = await instantiate(fresh_engine, mod, imp, memory=mem)
        assert instance_memory.pre_of(mem.ptr, key) == pre  # (taken, not made again)
        assert await run_call(second, "sys", [0, 1]) == [41]
        imp.define_async("lind", "syscall", ["i32"] + ["i64"] * 6, ["i64"],
                         lambda inst, args: 42)
        third = await instantiate(fresh_engine, mod, imp, memory=mem)
        assert await run_call(third, "sys", [0, 1]) == [42]  # the new definition
        assert instance_memory.pre_of(mem.ptr, key) == 0
        for inst in (first, second, third):
            inst.close()
        ptr = mem.ptr
        mem.close()  # deleted, never retired
        assert ptr not in instance_memory._pres

        ptr = await _used_memory(fresh_engine, guest_wasm)  # retired as a spare: kept
        assert spare_count(fresh_engine) == 1 and ptr in instance_memory._pres
        instance_memory._pool(fresh_engine).clear()  # (as when the engine goes)
        assert ptr not in instance_memory._pres

    run(main())
