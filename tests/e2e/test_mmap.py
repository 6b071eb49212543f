"""File-backed mmap, mremap, msync, madvise and the vmmap's placement rules (rawposix/mm.py,
rawposix/mm_file.py, rawposix/shm.py): C programs compared with native builds, and in-process
runs checking the host side — every file a mapping held is closed once the cages are gone."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest

from lind_async.rawposix import mm_file, shm
from tests.e2e.conftest import STACKS, MatchesNative, install, run_cage
from tests.e2e.inprocess import run_in_world

PROGRAMS = [
    "mmap_file",  # MAP_PRIVATE/MAP_SHARED files: read(), msync, munmap write-back, EOF, /dev/zero
    "mmap_fork",  # a shared file mapping stays shared with fork children, a private one is copied
    "mmap_remap",  # mremap, MADV_DONTNEED, MAP_FIXED over mappings, NOREPLACE, hole reuse
    "mmap_errors",  # EINVAL/EBADF/EACCES/ENODEV/EEXIST/ENOMEM/EFAULT/EOPNOTSUPP as Linux
]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_matches_native(name: str, stack: str, matches_native: MatchesNative) -> None:
    matches_native(name, stack, quiet=True)


TRUNCATED = b"""\
ftruncate: kept f f, past the end 0 x
still shared: S
truncate: past the end 0 0
open(O_TRUNC) 1: past the end 0
child after the parent's ftruncate: f 0
child exit 0
"""


def test_shrinking_a_mapped_file_cannot_bus_error_the_microvisor(
    cage_program: Any, root: Path
) -> None:
    """Natively the program would get SIGBUS: the cage reads zeros past the new end."""
    got = run_cage(cage_program("mmap_truncate"), [], root=root)
    assert (got.status, got.stdout) == (0, TRUNCATED), got.stderr.decode(errors="replace")



@pytest.mark.parametrize("name", ["mmap_file", "mmap_fork", "mmap_remap"])
def test_every_mapped_file_is_closed(
    name: str,
    cage_program: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    install(cage_program(name), tmp_path / name)
    made: list[shm.HostObject] = []
    real_file, real_anon = mm_file._file_object, shm.create

    def file_object(*args: Any, **kwargs: Any) -> shm.FileObject | None:
        obj = real_file(*args, **kwargs)
        if obj is not None:
            made.append(obj)
        return obj

    def create(base: int, start: int, end: int) -> shm.SharedAnon:
        obj = real_anon(base, start, end)
        made.append(obj)
        return obj

    monkeypatch.setattr(mm_file, "_file_object", file_object)
    monkeypatch.setattr(shm, "create", create)
    gc.collect()
    fds_before = len(os.listdir("/proc/self/fd"))
    status = run_in_world(tmp_path, tmp_path / name)
    gc.collect()  # (a loaded module keeps its .cwasm open until collected)
    out = capfd.readouterr().out
    assert status == 0, out
    assert any(isinstance(obj, shm.FileObject) for obj in made)
    assert all(obj.fd == -1 and obj.users == 0 for obj in made), made
    assert len(os.listdir("/proc/self/fd")) == fds_before
