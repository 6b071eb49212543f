"""Class 7 — host stdio is a capability to read and write a stream, not a name.

A cage's stdout is a host file outside its root. ``stdio_escape.c`` tries every route to give it
a name inside the root, wider access, or new metadata; each must be refused, the host file's
mode, size and link count must not change (beyond the bytes the cage writes), and the stream must
keep working. An embedder may grant metadata changes for one stream (``lind_async.HostStdio``);
names stay refused even then, and the grant reaches no other cage."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import lind_async
from tests.security.conftest import REPO

Build = Any

NAMES = {  # never a name, granted or not
    "linkat AT_EMPTY_PATH": "EPERM",
    "linkat /dev/stdout follow": "EPERM",
    "linkat /proc/self/fd/1 follow": "EPERM",
    "linkat /dev/fd/1 follow": "EPERM",
    "link /dev/stdout": "ENOENT",  # no-follow: /dev/stdout inside the root, which has none
    "renameat fd 1": "ENOTDIR",
    "symlink to /proc/self/fd/1": "OK",  # a symlink in the root, resolved in the root:
    "open through that symlink": "ENOENT",  # it names nothing
    "readlink /dev/stdout": "/proc/self/fd/1",
    "openat fd 1": "ENOTDIR",
    "openat fd 1 dotdot": "ENOTDIR",
    "fchdir fd 1": "ENOTDIR",
    "open /proc/self/fd/1 O_RDWR": "EACCES",  # the stream as handed over, never more
    "open /dev/stdout O_RDONLY": "EACCES",
    "open /dev/fd/1 O_RDWR": "EACCES",
    "mmap shared writable": "EACCES",
}
METADATA = [
    "fchmod", "chmod /dev/stdout", "chmod /proc/self/fd/1", "fchmodat /dev/fd/1", "fchown",
    "fchownat AT_EMPTY_PATH", "chown /dev/stdout", "futimens", "utimensat AT_EMPTY_PATH",
    "utimensat /dev/stdout", "utimensat /dev/stdout nofollow", "fallocate", "ftruncate",
]  # fmt: skip
REFUSED_ONLY = {"truncate /dev/stdout": "EPERM", "truncate /proc/self/fd/1": "EPERM"}
STREAM = {  # the stream keeps working
    "fstat": "OK", "fstatat AT_EMPTY_PATH": "OK", "lseek": "OK", "write": "OK",
    "open /dev/stdout O_WRONLY|O_TRUNC": "OK", "write through it": "OK",
}  # fmt: skip


def _report(stderr: bytes | None) -> dict[str, str]:
    assert stderr is not None
    text = stderr.decode(errors="replace")
    assert "Traceback" not in text and "internal error" not in text, text
    return dict(line.split(": ", 1) for line in text.splitlines())


def _host_log(tmp_path: Path, name: str = "log") -> Path:
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    log = outside / name
    log.write_bytes(b"the host's own log\n")
    log.chmod(0o640)
    return log


def _check_refused(report: dict[str, str], log: Path) -> None:
    readlink = report.pop("readlink /proc/self/fd/1")
    assert str(log.parent).encode() not in readlink.encode() and "/" not in readlink, readlink
    expected = {**NAMES, **dict.fromkeys(METADATA, "EPERM"), **REFUSED_ONLY, **STREAM}
    assert report == expected


def test_host_stdio_gives_no_name_access_or_metadata(attack_program: Build, tmp_path: Path) -> None:
    wasm = attack_program("stdio_escape")
    root = tmp_path / "root"
    root.mkdir()
    log = _host_log(tmp_path)
    before = log.stat()
    fd = os.open(log, os.O_WRONLY)
    os.lseek(fd, 0, os.SEEK_END)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm)],
            cwd=REPO, stdout=fd, stderr=subprocess.PIPE, timeout=120,
        )
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stderr
    _check_refused(_report(proc.stderr), log)
    after = log.stat()
    assert stat.S_IMODE(after.st_mode) == 0o640 == stat.S_IMODE(before.st_mode)
    assert after.st_nlink == before.st_nlink == 1
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert log.read_bytes() == b"the host's own log\nok\nok\n"  # appended, never truncated
    assert sorted(p.name for p in root.iterdir()) == ["s"]  # only the harmless symlink


def test_an_embedders_grant_allows_metadata_for_that_stream_only(
    attack_program: Build, tmp_path: Path
) -> None:
    wasm = attack_program("stdio_escape")
    root, other_root = tmp_path / "root", tmp_path / "other_root"
    root.mkdir()
    other_root.mkdir()
    granted_log, other_log = _host_log(tmp_path, "granted"), _host_log(tmp_path, "other")

    async def main() -> None:
        granted_fd = os.open(granted_log, os.O_WRONLY)
        other_fd = os.open(other_log, os.O_WRONLY)
        os.lseek(other_fd, 0, os.SEEK_END)
        try:
            async with lind_async.Microvisor(root=root) as mv:
                granted = await mv.create_cage_exec(
                    wasm, "granted", stdout=lind_async.HostStdio(granted_fd, metadata=True),
                    stderr=lind_async.PIPE,
                )
                neighbour = await mv.create_cage_exec(
                    wasm, stdout=lind_async.HostStdio(other_fd), stderr=lind_async.PIPE,
                    root=other_root,
                )
                _, granted_err = await asyncio.wait_for(granted.communicate(), 60)
                _, neighbour_err = await asyncio.wait_for(neighbour.communicate(), 60)
        finally:
            os.close(granted_fd)
            os.close(other_fd)
        assert granted.returncode == 0 and neighbour.returncode == 0
        report = _report(granted_err)
        report.pop("readlink /proc/self/fd/1")
        assert report == {**NAMES, **dict.fromkeys(METADATA, "OK"), **STREAM}
        assert stat.S_IMODE(granted_log.stat().st_mode) == 0o777
        assert granted_log.stat().st_nlink == 1
        assert granted_log.read_bytes() == b"theok\nok\n"  # truncated to 3 bytes, then written
        _check_refused(_report(neighbour_err), other_log)  # no grant for the other stream
        assert stat.S_IMODE(other_log.stat().st_mode) == 0o640
        assert other_log.read_bytes() == b"the host's own log\nok\nok\n"
        assert sorted(p.name for p in root.iterdir()) == ["s"]
        assert sorted(p.name for p in other_root.iterdir()) == ["s"]

    asyncio.run(main())
