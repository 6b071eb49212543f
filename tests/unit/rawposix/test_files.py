"""File calls on a fake cage: read/write/lseek/pread, confinement of names, stat, the cwd."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import (
    EBADF,
    EINVAL,
    EISDIR,
    ENAMETOOLONG,
    ENOENT,
    ENOTDIR,
    ERANGE,
    ESPIPE,
)
from tests.unit.rawposix.fake import FakeCage


def open_(cage: FakeCage, path: bytes, flags: int = F.O_RDONLY, mode: int = 0) -> int:
    return cage.call(nr.SYS_openat, F.AT_FDCWD, cage.cstr(path), flags, mode)


def read(cage: FakeCage, fd: int, count: int) -> bytes:
    buf = cage.alloc(count)
    n = cage.call(nr.SYS_read, fd, buf, count)
    assert n >= 0, n
    return cage.read(buf, n)


def stat_at(cage: FakeCage, buf: int) -> dict[str, int]:
    """The ``struct stat`` at ``buf``, its integer fields by name."""
    fields = L.STAT.unpack_from(cage.read(buf, L.STAT.size))
    return {name: value for name, value in fields.items() if isinstance(value, int)}


def fstat(cage: FakeCage, fd: int) -> dict[str, int]:
    buf = cage.alloc(L.STAT.size)
    assert cage.call(nr.SYS_fstat, fd, buf) == 0
    return stat_at(cage, buf)


def test_write_lseek_read_pread_on_a_new_file(cage: FakeCage, root: Path) -> None:
    fd = open_(cage, b"/new.txt", F.O_RDWR | F.O_CREAT | F.O_EXCL, 0o666)
    assert fd == 0  # the lowest free descriptor (the fake cage has no stdio)
    assert cage.call(nr.SYS_write, fd, cage.put(b"abcdef"), 6) == 6
    assert (root / "new.txt").read_bytes() == b"abcdef"
    assert stat.S_IMODE((root / "new.txt").stat().st_mode) == 0o644  # 0o666 & ~umask 022
    assert cage.call(nr.SYS_lseek, fd, 0, F.SEEK_CUR) == 6
    assert cage.call(nr.SYS_lseek, fd, 1, F.SEEK_SET) == 1
    assert read(cage, fd, 3) == b"bcd"
    buf = cage.alloc(8)
    assert cage.call(nr.SYS_pread64, fd, buf, 8, 4) == 2  # short at the end of the file
    assert cage.read(buf, 2) == b"ef"
    assert cage.call(nr.SYS_lseek, fd, 0, F.SEEK_CUR) == 4  # pread leaves the offset alone
    assert cage.call(nr.SYS_pwrite64, fd, cage.put(b"XY"), 2, 10) == 2  # past the end: a hole
    assert (root / "new.txt").read_bytes() == b"abcdef\0\0\0\0XY"
    assert cage.call(nr.SYS_lseek, fd, 0, F.SEEK_END) == 12
    assert read(cage, fd, 4) == b""  # at the end: 0, not an error
    assert open_(cage, b"/new.txt", F.O_CREAT | F.O_EXCL | F.O_WRONLY, 0o600) == -17  # EEXIST


def test_lseek_refuses_what_linux_refuses(cage: FakeCage) -> None:
    fd = open_(cage, b"/hello.txt")
    assert cage.call(nr.SYS_lseek, fd, -1, F.SEEK_SET) == -EINVAL
    assert cage.call(nr.SYS_lseek, fd, 0, 99) == -EINVAL  # no such whence
    assert cage.call(nr.SYS_lseek, fd, (1 << 63) - 1, F.SEEK_CUR) == (1 << 63) - 1
    assert cage.call(nr.SYS_lseek, fd, 1, F.SEEK_CUR) == -EINVAL  # past the largest offset
    assert cage.call(nr.SYS_pread64, fd, cage.alloc(4), 4, -1) == -EINVAL
    rfd, _ = pipe(cage)
    assert cage.call(nr.SYS_lseek, rfd, 0, F.SEEK_SET) == -ESPIPE
    assert cage.call(nr.SYS_pread64, rfd, cage.alloc(4), 4, 0) == -ESPIPE


def pipe(cage: FakeCage, flags: int = 0) -> tuple[int, int]:
    fds = cage.alloc(8)
    assert cage.call(nr.SYS_pipe2, fds, flags) == 0
    r, w = cage.unpack("<ii", fds)
    return r, w


def test_read_on_a_directory_is_eisdir_and_write_on_read_only_is_ebadf(cage: FakeCage) -> None:
    dfd = open_(cage, b"/dir", F.O_RDONLY | F.O_DIRECTORY)
    assert cage.call(nr.SYS_read, dfd, cage.alloc(4), 4) == -EISDIR
    fd = open_(cage, b"/hello.txt")
    assert cage.call(nr.SYS_write, fd, cage.put(b"x"), 1) == -EBADF
    assert open_(cage, b"/hello.txt", F.O_RDONLY | F.O_DIRECTORY) == -ENOTDIR
    assert open_(cage, b"/dir", F.O_WRONLY) == -EISDIR


# -- confinement ----------------------------------------------------------------------------------
# Each names ``secret`` beside the root (``tmp_path/secret``) if it could escape.
ESCAPES = [
    b"/../secret",
    b"../../../../../../../secret",
    b"/dir/../../secret",
    b"/abs-link",  # -> the host path of tmp_path/secret
    b"/rel-link",  # -> ../secret
    b"/dir/up-link/secret",  # dir/up-link -> ../..
]


@pytest.fixture
def escapes(root: Path) -> Path:
    outside = root.parent / "secret"
    outside.write_bytes(b"outside the root\n")
    (root / "abs-link").symlink_to(outside)
    (root / "rel-link").symlink_to("../secret")
    (root / "dir" / "up-link").symlink_to("../..")
    return root


@pytest.mark.parametrize("path", ESCAPES)
def test_dotdot_and_symlinks_stay_inside_the_root(
    cage: FakeCage, escapes: Path, path: bytes
) -> None:
    assert open_(cage, path) == -ENOENT  # the root has no such file
    # The same name resolved inside the root: /secret, or the host path under the root.
    inside = escapes / str(escapes.parent / "secret").lstrip("/") if path == b"/abs-link" else (
        escapes / "secret"
    )
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_bytes(b"inside the root\n")
    fd = open_(cage, path)
    assert fd >= 0
    assert read(cage, fd, 100) == b"inside the root\n"


def test_openat_relative_to_a_directory_fd_stays_inside(cage: FakeCage, escapes: Path) -> None:
    (escapes / "dir" / "f").write_bytes(b"in dir")
    dfd = open_(cage, b"/dir", F.O_RDONLY | F.O_DIRECTORY)
    fd = cage.call(nr.SYS_openat, dfd, cage.cstr(b"f"), F.O_RDONLY, 0)
    assert read(cage, fd, 10) == b"in dir"
    up = cage.call(nr.SYS_openat, dfd, cage.cstr(b"../../../.."), F.O_RDONLY | F.O_DIRECTORY, 0)
    assert fstat(cage, up)["st_ino"] == os.stat(escapes).st_ino  # clamped at the root
    fd = open_(cage, b"/hello.txt")
    assert cage.call(nr.SYS_openat, fd, cage.cstr(b"x"), F.O_RDONLY, 0) == -ENOTDIR
    assert cage.call(nr.SYS_openat, 77, cage.cstr(b"x"), F.O_RDONLY, 0) == -EBADF


def test_creating_through_a_symlink_out_of_the_root_lands_inside(
    cage: FakeCage, root: Path, tmp_path: Path
) -> None:
    (root / "out").symlink_to(tmp_path / "outside.txt")  # a host path beside the root
    fd = open_(cage, b"/out", F.O_WRONLY | F.O_CREAT, 0o644)
    if fd >= 0:
        assert cage.call(nr.SYS_write, fd, cage.put(b"x"), 1) == 1
    assert not (tmp_path / "outside.txt").exists()


# -- stat -----------------------------------------------------------------------------------------
def test_fstat_and_stat_write_the_x86_64_struct(cage: FakeCage, root: Path) -> None:
    host = (root / "hello.txt").stat()
    fd = open_(cage, b"/hello.txt")
    st = fstat(cage, fd)
    assert st["st_size"] == 13
    assert st["st_mode"] == host.st_mode and stat.S_ISREG(host.st_mode)
    assert st["st_nlink"] == 1
    assert st["st_ino"] == host.st_ino
    assert st["st_uid"] == host.st_uid and st["st_gid"] == host.st_gid
    assert st["st_mtim.tv_sec"] == host.st_mtime_ns // 10**9
    assert st["st_mtim.tv_nsec"] == host.st_mtime_ns % 10**9
    assert st["st_blksize"] == host.st_blksize and st["st_blocks"] == host.st_blocks

    buf = cage.alloc(L.STAT.size + 8)
    cage.mem.write(buf + L.STAT.size, b"\xaa" * 8)
    assert cage.call(nr.SYS_stat, cage.cstr(b"/dir"), buf) == 0
    assert stat.S_ISDIR(stat_at(cage, buf)["st_mode"])
    assert cage.read(buf + L.STAT.size, 8) == b"\xaa" * 8  # 144 bytes, not one more
    assert cage.call(nr.SYS_stat, cage.cstr(b"/missing"), buf) == -ENOENT
    assert cage.call(nr.SYS_stat, cage.cstr(b"/hello.txt/x"), buf) == -ENOTDIR
    assert cage.call(nr.SYS_stat, cage.cstr(b"/" + b"a" * 5000), buf) == -ENAMETOOLONG


def test_lstat_sees_the_link_and_stat_its_target(cage: FakeCage, root: Path) -> None:
    (root / "link").symlink_to("hello.txt")
    buf = cage.alloc(L.STAT.size)
    assert cage.call(nr.SYS_lstat, cage.cstr(b"/link"), buf) == 0
    assert stat.S_ISLNK(stat_at(cage, buf)["st_mode"])
    assert cage.call(nr.SYS_stat, cage.cstr(b"/link"), buf) == 0
    assert stat_at(cage, buf)["st_size"] == 13


# -- the working directory ------------------------------------------------------------------------
def getcwd(cage: FakeCage, size: int = 256) -> int | bytes:
    buf = cage.alloc(size)
    n = cage.call(nr.SYS_getcwd, buf, size)
    if n < 0:
        return n
    data = cage.read(buf, n)
    assert data.endswith(b"\0")  # Linux returns the length with the NUL
    return data[:-1]


def test_getcwd_and_chdir(cage: FakeCage, root: Path) -> None:
    assert getcwd(cage) == b"/"
    assert cage.call(nr.SYS_chdir, cage.cstr(b"dir")) == 0
    assert getcwd(cage) == b"/dir"
    (root / "dir" / "f").write_bytes(b"relative")
    fd = open_(cage, b"f")
    assert read(cage, fd, 20) == b"relative"
    assert getcwd(cage, 4) == -ERANGE  # "/dir" and its NUL need 5
    assert getcwd(cage, 5) == b"/dir"
    assert cage.call(nr.SYS_chdir, cage.cstr(b"../../..")) == 0
    assert getcwd(cage) == b"/"  # .. of the root is the root
    assert cage.call(nr.SYS_chdir, cage.cstr(b"/hello.txt")) == -ENOTDIR
    assert cage.call(nr.SYS_chdir, cage.cstr(b"/missing")) == -ENOENT
    assert cage.call(nr.SYS_chdir, cage.cstr(b"")) == -ENOENT
    assert getcwd(cage) == b"/"
    dfd = open_(cage, b"/dir", F.O_RDONLY | F.O_DIRECTORY)
    assert cage.call(nr.SYS_fchdir, dfd) == 0
    assert getcwd(cage) == b"/dir"
