"""Host streams as open file descriptions: :class:`HostStream` (the host's stdio) and
:func:`write_host`, Linux's blocking write over a non-blocking host fd (pipes, ttys, sockets).

Nothing here ever blocks the event loop: a blocking guest write completes as room appears while
only the calling cage waits, and a reader gone is ``EPIPE`` plus ``SIGPIPE``.
"""

from __future__ import annotations

import os
import socket
import stat as stat_mod
from collections.abc import Callable
from typing import TYPE_CHECKING

from lind_async.abi.errno import EAGAIN, ENOTTY, EPIPE, ESPIPE, GuestError
from lind_async.abi.flags import O_ACCMODE, O_NONBLOCK, O_RDONLY
from lind_async.rawposix.blocking import block, on_host_fd, wait_fd
from lind_async.rawposix.files import ALWAYS_READY, FileOps, SysResult
from lind_async.rawposix.readiness import (
    NO_WATCH,
    Cancel,
    Wake,
    forget_host_fd,
    host_poll_mask,
    watch_host_events,
)

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView


def write_host(
    cage: CageView,
    host_fd: int,
    view: memoryview,
    *,
    nonblocking: bool,
    attempt: Callable[[memoryview], int] | None = None,
) -> SysResult:
    """Write ``view`` to a non-blocking host fd (a pipe, tty, FIFO or socket) as Linux's write.

    For a blocking guest description the whole of ``view`` goes out: a host pipe takes 64 KiB at
    a time, so the rest is written as room appears while only the calling cage waits. A signal
    for the cage ends the wait: with ``EINTR`` before any byte moved, else with the count so far
    (as Linux). A non-blocking one gets what the host took now, or ``EAGAIN``. A reader gone is
    ``EPIPE`` plus ``SIGPIPE`` (after a partial write, the count so far). ``attempt`` replaces
    ``os.write`` (a socket's ``send`` with ``MSG_DONTWAIT``)."""
    write = attempt or (lambda part: os.write(host_fd, part))
    try:
        n = write(view)
    except BlockingIOError:
        if nonblocking:
            raise GuestError(EAGAIN) from None
        n = 0
    except BrokenPipeError:
        return _broken_pipe(cage)
    if n == len(view) or nonblocking:
        return n
    return _write_rest(cage, host_fd, view, n, write)


async def _write_rest(
    cage: CageView, host_fd: int, view: memoryview, done: int, write: Callable[[memoryview], int]
) -> int:
    # Not blocking.block: a write makes partial progress, and an interruption after some bytes
    # went out reports the count so far instead of EINTR.
    while done < len(view):
        try:
            await wait_fd(host_fd, writable=True, cage=cage)
        except GuestError:
            if done:
                return done  # interrupted after a partial write: report what went out
            raise
        try:
            done += write(view[done:])
        except BlockingIOError:
            continue
        except BrokenPipeError:
            if done:
                return done
            return _broken_pipe(cage)
    return done


def _broken_pipe(cage: CageView) -> int:
    cage.post_signal(SIGPIPE)
    raise GuestError(EPIPE)


SIGPIPE = 13
_DONTWAIT = int(socket.MSG_DONTWAIT)  # plain ints: IntFlag arithmetic costs ~0.8 us a call
_DONTWAIT_NOSIGNAL = int(socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)


class HostStream(FileOps):
    """One of the host's stdio streams, used without blocking the loop.

    Pipes, ttys and character devices are reopened through ``/proc/self/fd`` as a *new* open file
    description with ``O_NONBLOCK``, so the host's own stdio flags are never changed. A socket
    cannot be reopened: it is used through a ``dup`` with ``MSG_DONTWAIT`` on every transfer
    (which leaves its flags alone too). Regular files are used as they are (they never block).
    Blocking writes complete fully (:func:`write_host`).
    """

    __slots__ = ("_sock", "_tty", "host_fd", "nonblocking")
    level_watch = True

    def __init__(
        self,
        host_fd: int,
        status_flags: int,
        *,
        nonblocking: bool,
        tty: bool,
        sock: socket.socket | None = None,
    ) -> None:
        super().__init__(status_flags)
        self.host_fd = host_fd
        self.nonblocking = nonblocking
        self._tty = tty
        self._sock = sock

    @classmethod
    def adopt(cls, host_fd: int, status_flags: int) -> HostStream:
        """Wrap the host's fd ``host_fd`` (0, 1 or 2) for cage use."""
        st = os.fstat(host_fd)
        tty = os.isatty(host_fd)
        if stat_mod.S_ISSOCK(st.st_mode):
            sock = socket.socket(fileno=os.dup(host_fd))
            return cls(sock.fileno(), status_flags, nonblocking=True, tty=False, sock=sock)
        if stat_mod.S_ISFIFO(st.st_mode) or stat_mod.S_ISCHR(st.st_mode):
            access = os.O_RDONLY if status_flags & O_ACCMODE == O_RDONLY else os.O_WRONLY
            try:
                fd = os.open(f"/proc/self/fd/{host_fd}", access | os.O_NONBLOCK | os.O_CLOEXEC)
                return cls(fd, status_flags, nonblocking=True, tty=tty)
            except OSError:
                pass
        return cls(os.dup(host_fd), status_flags, nonblocking=False, tty=tty)

    def _read_now(self, view: memoryview) -> int:
        if self._sock is not None:
            return self._sock.recv_into(view, len(view), _DONTWAIT)
        return os.readv(self.host_fd, (view,))

    def _write_now(self, view: memoryview) -> int:
        if self._sock is not None:
            return self._sock.send(view, _DONTWAIT_NOSIGNAL)
        return os.write(self.host_fd, view)

    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        try:
            return self._read_now(view)
        except BlockingIOError:
            pass
        return block(lambda: self._read_now(view), on_host_fd(cage, self.host_fd, writable=False),
                     nonblocking=bool(self.status_flags & O_NONBLOCK))

    def write_from(self, cage: CageView, view: memoryview) -> SysResult:
        return write_host(
            cage,
            self.host_fd,
            view,
            nonblocking=bool(self.status_flags & O_NONBLOCK),
            attempt=self._write_now,
        )

    def seek(self, offset: int, whence: int) -> int:
        if self.nonblocking:
            raise GuestError(ESPIPE)
        return os.lseek(self.host_fd, offset, whence)

    def stat(self) -> os.stat_result:
        return os.fstat(self.host_fd)

    def is_tty(self) -> bool:
        return self._tty

    def winsize(self) -> tuple[int, int, int, int]:
        if not self._tty:
            raise GuestError(ENOTTY)
        size = os.get_terminal_size(self.host_fd)
        return size.lines, size.columns, 0, 0

    def poll_mask(self) -> int:
        if not self.nonblocking:
            return ALWAYS_READY
        return host_poll_mask(self.host_fd)

    def watch(self, events: int, wake: Wake) -> Cancel:
        if not self.nonblocking:
            return NO_WATCH
        return watch_host_events(self.host_fd, events, wake)

    def release(self) -> None:
        forget_host_fd(self.host_fd)
        if self._sock is not None:
            self._sock.close()
        else:
            os.close(self.host_fd)
