"""POSIX memory conformance (issue "POSIX conformance", Memory): the program break, mmap-family
argument errors, System V shared memory, semaphores and message queues. C programs under
``programs/mem_*.c`` compared with the same sources built natively, plus cage-only checks where a
native run cannot be compared (addresses)."""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path
from typing import Any

import pytest

from lind_async.runtime.world import World, default_cache_dir
from lind_async.wasm.engine import EngineConfig
from tests.e2e.conftest import STACKS, MatchesNative, install, run_cage

PROGRAMS = [
    "mem_brk",  # brk/sbrk grow, shrink, refusals, the guard page below a mapping, MAP_FIXED over
    #             the break's pages, holes, fork
    "mem_mmap_errors",  # mapping types, ignored flags, offsets (EOVERFLOW), wrapping lengths,
    #                     PROT_SEM/GROWS*, unaligned raw mprotect, madvise (beyond mmap_errors.c)
    "mem_sysv_shm",  # shmget/shmat/shmdt/shmctl: keys, nattch across fork, IPC_RMID, SHM_RND,
    #                  SHM_REMAP, SHM_RDONLY, shmdt errors and the range it frees
    "mem_sysv_sem",  # semget/semop/semtimedop/semctl: all or nothing, IPC_NOWAIT, blocking in a
    #                  child only, GETNCNT/GETZCNT, SEM_UNDO at exit, timeouts, EIDRM
    "mem_sysv_msg",  # msgget/msgsnd/msgrcv/msgctl: types, MSG_EXCEPT, MSG_NOERROR/E2BIG, full
    #                  queues, blocking senders and receivers, EIDRM
]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_matches_native(name: str, stack: str, matches_native: MatchesNative) -> None:
    matches_native(name, stack, quiet=True)


def test_exec_resets_the_break(cage_program: Any, root: Path) -> None:
    """A program that grew its break by 1 MiB and execs starts with the break a fresh start has."""
    install(cage_program("mem_brk"), root / "mem_brk")
    fresh = run_cage(root / "mem_brk", ["show"], root=root)
    after_exec = run_cage(root / "mem_brk", ["exec", "/mem_brk"], root=root)
    assert fresh.status == after_exec.status == 0, after_exec.stderr.decode(errors="replace")
    assert fresh.stdout.startswith(b"break 0x")
    assert after_exec.stdout == fresh.stdout


def _memfds() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += "lind-shared-anon" in os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
    return n


@pytest.mark.parametrize("args", [[], ["keep"]])
def test_segments_leave_no_host_fd(args: list[str], cage_program: Any, tmp_path: Path) -> None:
    """Every memfd and attach dup is closed once the cages and their world are gone (``keep``:
    a segment nobody removes goes with its world)."""
    install(cage_program("mem_sysv_shm"), tmp_path / "mem_sysv_shm")

    async def main() -> int | None:
        config = EngineConfig(cache_dir=default_cache_dir() / "modules")
        async with World(root=tmp_path, engine_config=config) as mv:
            cage = mv.spawn(tmp_path / "mem_sysv_shm", ["mem_sysv_shm", *args])
            await cage.exited.wait()
            return cage.status

    gc.collect()
    fds_before = len(os.listdir("/proc/self/fd"))
    assert asyncio.run(main()) == 0
    gc.collect()
    assert _memfds() == 0
    assert len(os.listdir("/proc/self/fd")) == fds_before
