"""Hostile arguments on a fake cage: pointers out of memory, huge lengths, bad fds, bad flags.

Each call fails with the errno Linux gives and leaves nothing behind: no descriptor made, no
guest byte written, no host byte written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EBADF, EFAULT, EINVAL, ENAMETOOLONG
from tests.unit.rawposix.fake import MEMORY_SIZE, FakeCage

# Pointers no byte of which is guest memory (wasm32: 32-bit addresses; a slot may hold them sign-
# or zero-extended). A buffer that starts inside memory and runs off its end is all-or-nothing
# here (EFAULT before any byte moves), where Linux may move the bytes before the fault.
BAD_POINTERS = [MEMORY_SIZE, MEMORY_SIZE + 4096, 0xFFFFFFF0, -16, 1 << 32, (1 << 64) - 8]


@pytest.mark.parametrize("addr", BAD_POINTERS)
def test_bad_buffers_are_efault(cage: FakeCage, root: Path, addr: int) -> None:
    fd = cage.call(nr.SYS_openat, F.AT_FDCWD, cage.cstr(b"/hello.txt"), F.O_RDWR, 0)
    assert cage.call(nr.SYS_read, fd, addr, 8) == -EFAULT
    assert cage.call(nr.SYS_write, fd, addr, 8) == -EFAULT
    assert cage.call(nr.SYS_pread64, fd, addr, 8, 0) == -EFAULT
    assert cage.call(nr.SYS_fstat, fd, addr) == -EFAULT
    assert cage.call(nr.SYS_uname, addr) == -EFAULT
    assert cage.call(nr.SYS_getcwd, addr, 64) == -EFAULT
    assert (root / "hello.txt").read_bytes() == b"hello, world\n"
    assert cage.call(nr.SYS_lseek, fd, 0, F.SEEK_CUR) == 0  # nothing was read


@pytest.mark.parametrize("addr", BAD_POINTERS)
def test_bad_path_pointers_are_efault(cage: FakeCage, addr: int) -> None:
    assert cage.call(nr.SYS_openat, F.AT_FDCWD, addr, F.O_RDONLY, 0) == -EFAULT
    assert cage.call(nr.SYS_chdir, addr) == -EFAULT
    assert cage.call(nr.SYS_stat, addr, cage.alloc(L.STAT.size)) == -EFAULT
    assert len(cage.fds) == 0


def test_a_path_running_off_the_end_of_memory_is_efault(cage: FakeCage) -> None:
    addr = MEMORY_SIZE - 16
    cage.mem.write(addr, b"a" * 16)  # no NUL before the end
    assert cage.call(nr.SYS_openat, F.AT_FDCWD, addr, F.O_RDONLY, 0) == -EFAULT
    long_name = cage.cstr(b"/" + b"x" * 4096)  # PATH_MAX counts the NUL
    assert cage.call(nr.SYS_openat, F.AT_FDCWD, long_name, F.O_RDONLY, 0) == -ENAMETOOLONG


def test_out_arrays_are_checked_before_anything_is_made(cage: FakeCage) -> None:
    for addr in (MEMORY_SIZE - 4, MEMORY_SIZE):
        assert cage.call(nr.SYS_pipe2, addr, 0) == -EFAULT
        assert cage.call(nr.SYS_socketpair, F.AF_UNIX, F.SOCK_STREAM, 0, addr) == -EFAULT
    assert len(cage.fds) == 0  # no descriptor leaked behind the fault


def test_huge_lengths(cage: FakeCage, root: Path) -> None:
    fd = cage.call(nr.SYS_openat, F.AT_FDCWD, cage.cstr(b"/hello.txt"), F.O_RDWR, 0)
    buf = cage.alloc(16)
    # A count past the end of memory faults (Linux: access_ok on the whole range) ...
    assert cage.call(nr.SYS_read, fd, buf, 0xFFFFFFFF) == -EFAULT
    assert cage.call(nr.SYS_write, fd, buf, 0x7FFFFFFF) == -EFAULT
    assert (root / "hello.txt").read_bytes() == b"hello, world\n"
    # ... and a count that fits reads what there is.
    assert cage.call(nr.SYS_read, fd, buf, MEMORY_SIZE - buf) == 13
    iov = cage.put(L.IOVEC.pack(iov_base=buf, iov_len=0xFFFFFFFF) * 2)
    assert cage.call(nr.SYS_readv, fd, iov, 2) == -EINVAL  # the lengths overflow ssize_t
    assert cage.call(nr.SYS_readv, fd, iov, 1025) == -EINVAL  # more than IOV_MAX
    pfds = cage.alloc(8)
    assert cage.call(nr.SYS_poll, pfds, 1 << 20, 0) == -EINVAL  # past RLIMIT_NOFILE


def test_null_required_pointers_are_efault(cage: FakeCage) -> None:
    """Page 0 is unmapped on Linux: a NULL or near-NULL buffer is EFAULT, an empty one is not."""
    assert cage.call(nr.SYS_pipe2, 0, 0) == -EFAULT
    assert cage.call(nr.SYS_openat, F.AT_FDCWD, 0, F.O_RDONLY, 0) == -EFAULT
    assert cage.call(nr.SYS_openat, F.AT_FDCWD, 4095, F.O_RDONLY, 0) == -EFAULT
    fd = cage.call(nr.SYS_eventfd2, 0, 0)
    assert cage.call(nr.SYS_read, fd, 8, 8) == -EFAULT
    assert cage.call(nr.SYS_write, fd, 0, 8) == -EFAULT
    assert cage.call(nr.SYS_clock_gettime, 0, 16) == -EFAULT
    fds = cage.alloc(8)
    assert cage.call(nr.SYS_pipe2, fds, 0) == 0
    _, write_end = cage.unpack("<ii", fds)
    assert cage.call(nr.SYS_write, write_end, 0, 0) == 0  # nothing to read: no fault


@pytest.mark.parametrize("fd", [-1, -100, 1 << 20, 0x7FFFFFFF])
def test_bad_descriptors_are_ebadf(cage: FakeCage, fd: int) -> None:
    buf = cage.alloc(L.STAT.size)
    assert cage.call(nr.SYS_read, fd, buf, 1) == -EBADF
    assert cage.call(nr.SYS_write, fd, buf, 1) == -EBADF
    assert cage.call(nr.SYS_close, fd) == -EBADF
    assert cage.call(nr.SYS_fstat, fd, buf) == -EBADF
    assert cage.call(nr.SYS_lseek, fd, 0, F.SEEK_SET) == -EBADF
    assert cage.call(nr.SYS_dup, fd) == -EBADF
    assert cage.call(nr.SYS_fcntl, fd, F.F_GETFL) == -EBADF
    assert cage.call(nr.SYS_fchdir, fd) == -EBADF
    assert cage.call(nr.SYS_sendto, fd, buf, 1, 0, 0, 0) == -EBADF


def test_dup2_to_a_negative_or_too_large_fd_is_ebadf(cage: FakeCage) -> None:
    fd = cage.call(nr.SYS_eventfd2, 0, 0)
    assert cage.call(nr.SYS_dup2, fd, -1) == -EBADF
    assert cage.call(nr.SYS_dup2, fd, 1 << 20) == -EBADF
    assert len(cage.fds) == 1


@pytest.mark.parametrize(
    ("number", "args"),
    [
        (nr.SYS_pipe2, (0x1000, F.O_RDWR)),
        (nr.SYS_eventfd2, (0, 0x2)),
        (nr.SYS_getrandom, (0x1000, 4, 0x80)),
        (nr.SYS_socketpair, (F.AF_UNIX, F.SOCK_STREAM | 0x4000, 0, 0x1000)),
        (nr.SYS_dup3, (0, 1, F.O_NONBLOCK)),
        (nr.SYS_openat, (F.AT_FDCWD, 0, F.O_TMPFILE | F.O_RDONLY, 0)),
        (nr.SYS_mmap, (0, 4096, F.PROT_READ, F.MAP_ANONYMOUS, -1, 0)),  # no MAP_TYPE
        (nr.SYS_rt_sigprocmask, (3, 0x1000, 0, 8)),  # how is checked when a set is given
    ],
)
def test_bad_flags_are_einval(cage: FakeCage, number: int, args: tuple[int, ...]) -> None:
    fd = cage.call(nr.SYS_eventfd2, 0, 0)  # fd 0, for dup3
    if number == nr.SYS_openat:
        args = (args[0], cage.cstr(b"/dir"), *args[2:])
    assert cage.call(number, *args) == -EINVAL
    assert [vfd for vfd, _ in cage.fds.items()] == [fd]
