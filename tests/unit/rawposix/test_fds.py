"""Descriptor calls on a fake cage: pipes, dup, close, fcntl, eventfd, poll, socketpair."""

from __future__ import annotations

import struct

import pytest

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EAGAIN, EBADF, EINVAL, EMFILE, EOPNOTSUPP, EPIPE
from tests.unit.rawposix.fake import FakeCage

SIGPIPE = 13


def pipe(cage: FakeCage, flags: int = 0) -> tuple[int, int]:
    fds = cage.alloc(8)
    assert cage.call(nr.SYS_pipe2, fds, flags) == 0
    r, w = cage.unpack("<ii", fds)
    return r, w


def write(cage: FakeCage, fd: int, data: bytes) -> int:
    return cage.call(nr.SYS_write, fd, cage.put(data), len(data))


def read(cage: FakeCage, fd: int, count: int) -> int | bytes:
    buf = cage.alloc(count)
    n = cage.call(nr.SYS_read, fd, buf, count)
    return n if n < 0 else cage.read(buf, n)


# -- pipes, dup, close ----------------------------------------------------------------------------
def test_pipe_dup_close(cage: FakeCage) -> None:
    r, w = pipe(cage)
    assert (r, w) == (0, 1)
    assert write(cage, w, b"through the pipe") == 16
    assert cage.call(nr.SYS_ioctl, r, F.FIONREAD, buf := cage.alloc(4)) == 0
    assert cage.unpack("<i", buf) == (16,)
    r2 = cage.call(nr.SYS_dup, r)
    assert r2 == 2
    assert cage.call(nr.SYS_close, r) == 0
    assert read(cage, r2, 7) == b"through"  # the same description
    assert cage.call(nr.SYS_dup2, r2, 7) == 7
    assert read(cage, 7, 100) == b" the pipe"
    assert cage.call(nr.SYS_close, r) == -EBADF  # closed already
    assert read(cage, r, 1) == -EBADF
    assert cage.call(nr.SYS_dup3, 7, 7, 0) == -EINVAL  # dup3 to itself, unlike dup2
    assert cage.call(nr.SYS_dup2, 7, 7) == 7
    assert cage.call(nr.SYS_dup3, 7, 8, 0x1234) == -EINVAL  # only O_CLOEXEC
    assert cage.call(nr.SYS_close, 7) == 0
    assert cage.call(nr.SYS_close, r2) == 0
    # Every read end is gone: EPIPE, and SIGPIPE for the writer.
    assert write(cage, w, b"x") == -EPIPE
    assert cage.posted == [(SIGPIPE, 0)]


def test_an_empty_pipe_with_its_writer_gone_reads_eof(cage: FakeCage) -> None:
    r, w = pipe(cage, F.O_NONBLOCK)
    assert read(cage, r, 4) == -EAGAIN  # empty, writer open, non-blocking
    assert cage.call(nr.SYS_close, w) == 0
    assert read(cage, r, 4) == b""


async def test_a_blocking_pipe_read_waits_for_the_writer(cage: FakeCage) -> None:
    r, w = pipe(cage)
    buf = cage.alloc(8)
    pending = cage.acall(nr.SYS_read, r, buf, 8)
    assert write(cage, w, b"later") == 5
    assert await pending == 5
    assert cage.read(buf, 5) == b"later"


def test_pipe2_flags(cage: FakeCage) -> None:
    assert cage.call(nr.SYS_pipe2, cage.alloc(8), 0x4) == -EINVAL  # not a pipe2 flag
    r, w = pipe(cage, F.O_CLOEXEC | F.O_NONBLOCK)
    assert cage.call(nr.SYS_fcntl, r, F.F_GETFD) == F.FD_CLOEXEC
    assert cage.call(nr.SYS_fcntl, w, F.F_GETFL) & F.O_NONBLOCK
    assert cage.call(nr.SYS_fcntl, w, F.F_GETFL) & F.O_ACCMODE == F.O_WRONLY


# -- fcntl ----------------------------------------------------------------------------------------
def test_fcntl_flags(cage: FakeCage) -> None:
    fd = cage.call(nr.SYS_openat, F.AT_FDCWD, cage.cstr(b"/hello.txt"), F.O_RDONLY, 0)
    flags = cage.call(nr.SYS_fcntl, fd, F.F_GETFL)
    assert flags & F.O_ACCMODE == F.O_RDONLY and not flags & F.O_NONBLOCK
    # F_SETFL changes O_APPEND/O_NONBLOCK and nothing else (not the access mode).
    assert cage.call(nr.SYS_fcntl, fd, F.F_SETFL, F.O_NONBLOCK | F.O_RDWR) == 0
    flags = cage.call(nr.SYS_fcntl, fd, F.F_GETFL)
    assert flags & F.O_NONBLOCK and flags & F.O_ACCMODE == F.O_RDONLY
    assert cage.call(nr.SYS_fcntl, fd, F.F_GETFD) == 0
    assert cage.call(nr.SYS_fcntl, fd, F.F_SETFD, F.FD_CLOEXEC) == 0
    assert cage.call(nr.SYS_fcntl, fd, F.F_GETFD) == F.FD_CLOEXEC
    assert cage.call(nr.SYS_fcntl, fd, F.F_DUPFD, 10) == 10
    assert cage.call(nr.SYS_fcntl, fd, F.F_GETFD) == F.FD_CLOEXEC
    assert cage.call(nr.SYS_fcntl, 10, F.F_GETFD) == 0  # a dup does not inherit FD_CLOEXEC
    assert cage.call(nr.SYS_fcntl, fd, F.F_DUPFD_CLOEXEC, 10) == 11
    assert cage.call(nr.SYS_fcntl, 11, F.F_GETFD) == F.FD_CLOEXEC
    assert cage.call(nr.SYS_fcntl, fd, F.F_DUPFD, 1 << 30) == -EINVAL  # past RLIMIT_NOFILE
    assert cage.call(nr.SYS_fcntl, fd, 0x7777) == -EINVAL  # no such command
    assert cage.call(nr.SYS_fcntl, 99, F.F_GETFL) == -EBADF


def test_running_out_of_descriptors_is_emfile(cage: FakeCage) -> None:
    cage.fds.limit = 8
    fds = [cage.call(nr.SYS_eventfd2, 0, 0) for _ in range(8)]
    assert fds == list(range(8))
    assert cage.call(nr.SYS_eventfd2, 0, 0) == -EMFILE
    assert cage.call(nr.SYS_pipe2, buf := cage.alloc(8), 0) == -EMFILE
    assert cage.read(buf, 8) == bytes(8)  # nothing written on failure


# -- eventfd --------------------------------------------------------------------------------------
def test_eventfd_counts_and_refuses_what_linux_refuses(cage: FakeCage) -> None:
    fd = cage.call(nr.SYS_eventfd2, 3, F.EFD_NONBLOCK)
    buf = cage.alloc(8)
    assert cage.call(nr.SYS_read, fd, buf, 8) == 8
    assert cage.unpack("<Q", buf) == (3,)
    assert cage.call(nr.SYS_read, fd, buf, 8) == -EAGAIN  # zero: would block
    assert cage.call(nr.SYS_write, fd, cage.put(struct.pack("<Q", 5)), 8) == 8
    assert cage.call(nr.SYS_write, fd, cage.put(struct.pack("<Q", 2)), 8) == 8
    assert cage.call(nr.SYS_read, fd, buf, 8) == 8
    assert cage.unpack("<Q", buf) == (7,)
    assert cage.call(nr.SYS_read, fd, buf, 4) == -EINVAL  # less than 8 bytes
    assert cage.call(nr.SYS_write, fd, cage.put(b"\1\0\0\0"), 4) == -EINVAL
    assert cage.call(nr.SYS_write, fd, cage.put(b"\xff" * 8), 8) == -EINVAL  # 2**64 - 1
    assert cage.call(nr.SYS_eventfd2, 0, 0x10) == -EINVAL  # not an EFD_ flag


def test_eventfd_semaphore_reads_one(cage: FakeCage) -> None:
    fd = cage.call(nr.SYS_eventfd2, 2, F.EFD_SEMAPHORE | F.EFD_NONBLOCK)
    buf = cage.alloc(8)
    for _ in range(2):
        assert cage.call(nr.SYS_read, fd, buf, 8) == 8
        assert cage.unpack("<Q", buf) == (1,)
    assert cage.call(nr.SYS_read, fd, buf, 8) == -EAGAIN


# -- poll -----------------------------------------------------------------------------------------
def pollfds(cage: FakeCage, entries: list[tuple[int, int]]) -> int:
    return cage.put(b"".join(L.POLLFD.pack(fd=fd, events=ev, revents=0) for fd, ev in entries))


def revents(cage: FakeCage, addr: int, n: int) -> list[int]:
    return [cage.unpack("<ihh", addr + 8 * i)[2] & 0xFFFF for i in range(n)]


async def test_poll_reports_ready_descriptors(cage: FakeCage) -> None:
    r, w = pipe(cage)
    efd = cage.call(nr.SYS_eventfd2, 0, 0)
    fds = pollfds(cage, [(r, F.POLLIN), (w, F.POLLOUT), (efd, F.POLLIN), (99, F.POLLIN), (-1, 1)])
    assert await cage.acall(nr.SYS_poll, fds, 5, 0) == 2  # the writable pipe, and fd 99
    assert revents(cage, fds, 5) == [0, F.POLLOUT, 0, F.POLLNVAL, 0]
    write(cage, w, b"x")
    assert await cage.acall(nr.SYS_poll, fds, 5, 0) == 3
    assert revents(cage, fds, 5) == [F.POLLIN, F.POLLOUT, 0, F.POLLNVAL, 0]
    assert cage.call(nr.SYS_close, w) == 0
    one = pollfds(cage, [(r, F.POLLIN)])
    assert await cage.acall(nr.SYS_poll, one, 1, 0) == 1
    assert revents(cage, one, 1) == [F.POLLIN | F.POLLHUP]  # data, and the writer gone


async def test_poll_waits_until_a_descriptor_is_ready(cage: FakeCage) -> None:
    efd = cage.call(nr.SYS_eventfd2, 0, 0)
    fds = pollfds(cage, [(efd, F.POLLIN)])
    pending = cage.acall(nr.SYS_poll, fds, 1, 5000)
    cage.call(nr.SYS_write, efd, cage.put(struct.pack("<Q", 1)), 8)
    assert await pending == 1
    assert revents(cage, fds, 1) == [F.POLLIN]


async def test_poll_timeout_with_nothing_ready(cage: FakeCage) -> None:
    r, _ = pipe(cage)
    assert await cage.acall(nr.SYS_poll, pollfds(cage, [(r, F.POLLIN)]), 1, 20) == 0


# -- socketpair -----------------------------------------------------------------------------------
def socketpair(cage: FakeCage, kind: int) -> tuple[int, int]:
    sv = cage.alloc(8)
    assert cage.call(nr.SYS_socketpair, F.AF_UNIX, kind, 0, sv) == 0
    a, b = cage.unpack("<ii", sv)
    return a, b


async def test_socketpair_stream_send_recv(cage: FakeCage) -> None:
    a, b = socketpair(cage, F.SOCK_STREAM)
    assert cage.call(nr.SYS_sendto, a, cage.put(b"ping"), 4, 0, 0, 0) == 4
    assert cage.call(nr.SYS_sendto, a, cage.put(b"pong"), 4, 0, 0, 0) == 4
    buf = cage.alloc(16)
    assert await cage.acall(nr.SYS_recvfrom, b, buf, 16, 0, 0, 0) == 8  # a stream: no boundaries
    assert cage.read(buf, 8) == b"pingpong"
    assert cage.call(nr.SYS_write, b, cage.put(b"back"), 4) == 4  # both ways
    assert await cage.acall(nr.SYS_read, a, buf, 16) == 4
    assert cage.call(nr.SYS_recvfrom, a, buf, 16, F.MSG_DONTWAIT, 0, 0) == -EAGAIN
    assert cage.call(nr.SYS_shutdown, b, F.SHUT_WR) == 0
    assert await cage.acall(nr.SYS_recvfrom, a, buf, 16, 0, 0, 0) == 0  # EOF


async def test_socketpair_datagrams_keep_boundaries(cage: FakeCage) -> None:
    a, b = socketpair(cage, F.SOCK_DGRAM)
    assert cage.call(nr.SYS_sendto, a, cage.put(b"one"), 3, 0, 0, 0) == 3
    assert cage.call(nr.SYS_sendto, a, cage.put(b"second"), 6, 0, 0, 0) == 6
    buf = cage.alloc(16)
    assert await cage.acall(nr.SYS_recvfrom, b, buf, 16, 0, 0, 0) == 3
    assert await cage.acall(nr.SYS_recvfrom, b, buf, 2, 0, 0, 0) == 2  # truncated: rest dropped
    assert cage.read(buf, 2) == b"se"
    assert cage.call(nr.SYS_recvfrom, b, buf, 16, F.MSG_DONTWAIT, 0, 0) == -EAGAIN


@pytest.mark.parametrize(
    ("domain", "kind", "errno"),
    [
        (F.AF_INET, F.SOCK_STREAM, EOPNOTSUPP),  # Linux: no socketpair for AF_INET
        (F.AF_UNIX, 99, EINVAL),  # no such type
        (F.AF_UNIX, F.SOCK_STREAM | 0x100, EINVAL),  # a flag bit that is not NONBLOCK/CLOEXEC
    ],
)
def test_socketpair_refusals(cage: FakeCage, domain: int, kind: int, errno: int) -> None:
    sv = cage.alloc(8)
    assert cage.call(nr.SYS_socketpair, domain, kind, 0, sv) == -errno
    assert cage.read(sv, 8) == bytes(8) and len(cage.fds) == 0
