"""Hostile arguments to the memory family: every call answers with a result or an errno.

A cage (programs/mem_fuzz.c) runs whatever system calls it is sent; hypothesis sends batches of
``mmap``/``mremap``/``munmap``/``mprotect``/``madvise``/``msync``/``mincore``/``brk`` calls with
huge, negative, unaligned and overlapping values (addresses are drawn near the top of linear
memory, where mappings are placed, so calls overlap each other's mappings). One cage serves
every example, so the state each batch leaves is the next one's starting point. The program
only uses its static data, so no call can legitimately end it: the cage dying at all (an
"internal error" is ``SIGSYS``) fails the test, with the log of the microvisor attached.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lind_async
from lind_async.abi import syscalls as nr
from tests.security.memory_helpers import microvisor_log

PAGE = 4096
U64 = 1 << 64
_RECORD = struct.Struct("<7q")


def _signed(value: int) -> int:
    value %= U64
    return value - U64 if value >= 1 << 63 else value


@dataclass
class FuzzCage:
    loop: asyncio.AbstractEventLoop
    mv: lind_async.Microvisor
    wasm: Path
    log: list[str]
    proc: lind_async.CageProcess | None = None
    top: int = 0

    async def start(self) -> None:
        self.proc = await self.mv.create_cage_exec(
            self.wasm, stdin=lind_async.PIPE, stdout=lind_async.PIPE)
        assert self.proc.stdout is not None
        self.top = struct.unpack("<q", await self.proc.stdout.readexactly(8))[0]

    async def run(self, calls: list[list[int]]) -> list[int]:
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        results = []
        for call in calls:
            proc.stdin.write(_RECORD.pack(*map(_signed, call)))
            try:
                results.append(struct.unpack("<q", await proc.stdout.readexactly(8))[0])
            except asyncio.IncompleteReadError:
                code = await proc.wait()
                self.proc = None
                await self.start()
                log = "\n".join(self.log)
                pytest.fail(f"the cage died ({code}) at {call} after {results}:\n{log}")
        return results


@pytest.fixture(scope="module")
def fuzz_cage(attack_program: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzCage]:
    root = tmp_path_factory.mktemp("fuzzroot")
    loop = asyncio.new_event_loop()
    mv = lind_async.Microvisor(root=root)
    loop.run_until_complete(mv.__aenter__())
    try:
        with microvisor_log() as log:
            cage = FuzzCage(loop, mv, attack_program("mem_fuzz"), log)
            loop.run_until_complete(cage.start())
            yield cage
    finally:
        loop.run_until_complete(mv.__aexit__(None, None, None))
        loop.close()


# -- strategies ----------------------------------------------------------------------------------
EXTREMES = [0, 1, -1, PAGE - 1, PAGE, PAGE + 1, 1 << 31, (1 << 31) - 1, -(1 << 31),
            (1 << 32) - 1, 1 << 32, (1 << 32) - PAGE, (1 << 32) + PAGE, (1 << 63) - 1, -(1 << 63),
            (1 << 63) - PAGE, (1 << 62), (1 << 64) - PAGE, (1 << 40)]
huge = st.sampled_from(EXTREMES) | st.integers(-(1 << 63), (1 << 64) - 1)


def mostly(good: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    """``good`` values most of the time (so calls get past their first check), hostile ones
    otherwise."""
    return st.tuples(st.integers(0, 7), good, huge).map(lambda t: t[2] if t[0] == 7 else t[1])


def bits(*choices: int) -> st.SearchStrategy[int]:
    return st.lists(st.sampled_from(choices), max_size=len(choices)).map(lambda b: sum(set(b)))


pages = st.integers(0, 12).map(lambda n: n * PAGE)
length = mostly(pages | pages | pages.map(lambda n: n + 1) | pages.map(lambda n: n - 1))


def calls(top: int) -> st.SearchStrategy[list[int]]:
    near_top = st.integers(0, 96).map(lambda k: top - k * PAGE)  # where mappings are placed
    anywhere = st.integers(0, top // PAGE).map(lambda p: p * PAGE)
    addr = mostly(near_top | near_top | near_top.map(lambda a: a + 1) | anywhere | st.just(0))
    fd = mostly(st.sampled_from([-1, 0, 99]) | st.integers(3, 13))
    prot = mostly(st.sampled_from([0, 1, 3, 7]))
    # MAP_SHARED/PRIVATE/SHARED_VALIDATE/none, plus ANONYMOUS, FIXED, FIXED_NOREPLACE, others
    map_flags = mostly(st.tuples(st.sampled_from([1, 2, 3, 0, 1, 2]),
                                 bits(0x20, 0x20, 0x10, 0x100000, 0x4000, 0x8000, 0x40000, 0x100))
                       .map(sum))
    offset = mostly(st.sampled_from([0, PAGE, 2 * PAGE, 3 * PAGE, 1]))
    mremap_flags = mostly(st.sampled_from([0, 1, 1, 3, 3, 2, 4, 5]))
    advice = mostly(st.sampled_from([0, 1, 2, 3, 4, 8, 9, 100, 101, 14, 15, 18, 22, 23]))
    ms_flags = mostly(bits(1, 2, 4))
    z = st.just(0)
    return st.one_of(
        st.tuples(st.just(nr.SYS_mmap), addr, length, prot, map_flags, fd, offset),
        st.tuples(st.just(nr.SYS_mmap), addr, length, prot, map_flags, fd, offset),
        st.tuples(st.just(nr.SYS_mremap), addr, length, length, mremap_flags, addr, z),
        st.tuples(st.just(nr.SYS_mremap), addr, pages, pages, mremap_flags, addr, z),
        st.tuples(st.just(nr.SYS_munmap), addr, length, z, z, z, z),
        st.tuples(st.just(nr.SYS_mprotect), addr, length, prot, z, z, z),
        st.tuples(st.just(nr.SYS_madvise), addr, length, advice, z, z, z),
        st.tuples(st.just(nr.SYS_msync), addr, length, ms_flags, z, z, z),
        st.tuples(st.just(nr.SYS_mincore), addr, length, addr, z, z, z),
        st.tuples(st.just(nr.SYS_brk), addr, z, z, z, z, z),
    ).map(list)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_memory_calls_answer_with_errno(fuzz_cage: FuzzCage, data: st.DataObject) -> None:
    batch = data.draw(st.lists(calls(fuzz_cage.top), min_size=1, max_size=30))
    results = fuzz_cage.loop.run_until_complete(fuzz_cage.run(batch))
    for call, result in zip(batch, results, strict=True):
        assert result >= -4095, (call, result)  # a value or -errno, as Linux
