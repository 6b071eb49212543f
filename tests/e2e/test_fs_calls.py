"""Filesystem breadth: C programs compared with their native builds, plus the cage-only rules
(devices are EPERM, /dev/tty without a terminal) and off-loop regular-file reads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lind_async.rawposix import host_file
from tests.e2e.conftest import REPO, STACKS, MatchesNative, run_cage

PROGRAMS = ["fs_meta", "fs_locks", "fs_fifo", "fs_procfd", "fs_access_modes"]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_matches_native(name: str, stack: str, matches_native: MatchesNative) -> None:
    matches_native(name, stack)


def test_device_nodes_are_eperm_for_a_cage(cage_program: Any, root: Path) -> None:
    result = run_cage(cage_program("fs_meta"), ["chr"], root=root)
    assert result.status == 0, result.stderr
    assert result.stdout.count(b"EPERM") == 2, result.stdout
    assert not (root / "chr").exists() and not (root / "blk").exists()


TTY_PROGRAM = b"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
int main(void) {
    int fd = open("/dev/tty", O_RDWR);
    printf("%d %d\\n", fd, fd < 0 && errno == ENXIO);
    return 0;
}
"""


def test_dev_tty_without_a_controlling_terminal_is_enxio(root: Path, tmp_path: Path) -> None:
    from lind_async.toolchain.cc import compile_cached

    source = tmp_path / "tty.c"
    source.write_bytes(TTY_PROGRAM)
    wasm = compile_cached(source)
    proc = subprocess.run(
        [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm)],
        capture_output=True,
        timeout=120,
        cwd=REPO,
        start_new_session=True,  # no controlling terminal
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout == b"-1 1\n", proc.stderr


# -- off-loop reads ---------------------------------------------------------------------------
class _Cage:
    """The little of a cage HostFile.read_into uses (nothing)."""


def test_page_cache_miss_reads_on_a_worker_while_the_loop_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read the kernel cannot serve without waiting (RWF_NOWAIT fails) goes to a worker; the
    event loop keeps running meanwhile, and the file offset advances as for a plain read."""
    data = bytes(range(256)) * 64
    path = tmp_path / "f"
    path.write_bytes(data)
    real_preadv, real_pread = os.preadv, os.pread

    def preadv(fd: int, buffers: Any, offset: int, flags: int = 0) -> int:
        if flags:
            raise BlockingIOError(11, "would wait for the disk")
        return real_preadv(fd, buffers, offset)

    def slow_pread(fd: int, length: int, offset: int) -> bytes:
        time.sleep(0.3)
        return real_pread(fd, length, offset)

    monkeypatch.setattr(host_file.os, "preadv", preadv)
    monkeypatch.setattr(host_file.os, "pread", slow_pread)

    async def scenario() -> tuple[int, bytes, int, int]:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        file = host_file.HostFile(fd, os.O_RDONLY)
        try:
            file.seek(100, os.SEEK_SET)
            buf = bytearray(1000)
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            task = asyncio.create_task(ticker())
            pending = file.read_into(_Cage(), memoryview(buf))  # type: ignore[arg-type]
            assert not isinstance(pending, int)
            n = await pending
            task.cancel()
            return n, bytes(buf), file.pos, ticks
        finally:
            file.release()

    n, got, pos, ticks = asyncio.run(scenario())
    assert n == 1000 and got == data[100:1100] and pos == 1100
    assert ticks >= 10, "the event loop froze during the slow read"


def test_cached_reads_complete_inline(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 70000)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    file = host_file.HostFile(fd, os.O_RDONLY)
    try:
        buf = bytearray(65536)
        assert file.read_into(_Cage(), memoryview(buf)) == 65536  # type: ignore[arg-type]
        assert file.read_into(_Cage(), memoryview(buf)) == 70000 - 65536  # type: ignore[arg-type]
        assert file.read_into(_Cage(), memoryview(buf)) == 0  # type: ignore[arg-type]
    finally:
        file.release()
