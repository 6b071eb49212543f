"""POSIX memory conformance (issue "POSIX conformance", Memory): the program break, mmap-family
argument errors, System V shared memory, semaphores and message queues. C programs under
``programs/mem_*.c`` compared with the same sources built natively, plus cage-only checks where a
native run cannot be compared (addresses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import STACKS, MatchesNative, install, run_cage

PROGRAMS = [
    "mem_brk",  # brk/sbrk grow, shrink, refusals, the guard page below a mapping, MAP_FIXED over
    #             the break's pages, holes, fork
    "mem_mmap_errors",  # mapping types, ignored flags, offsets (EOVERFLOW), wrapping lengths,
    #                     PROT_SEM/GROWS*, unaligned raw mprotect, madvise (beyond mmap_errors.c)
    "mem_sysv_shm",  # shmget/shmat/shmdt/shmctl: keys, nattch across fork, IPC_RMID, SHM_RND,
    #                  SHM_REMAP, SHM_RDONLY, shmdt errors and the range it frees
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
