"""RawPOSIX signalfd/signalfd4: a cage's pending signals read as ``struct signalfd_siginfo``.

A read takes pending signals in the descriptor's mask off the reading cage's signal state (as
Linux dequeues them from the caller), lowest number first, one 128-byte record each, and waits
while there are none. A program blocks those signals first (else they are delivered as usual
before anything can read them). Readiness (poll/epoll) is judged for the cage that created the
descriptor; the runtime wakes watchers whenever a signal becomes pending for a cage
(:data:`POSTED`, fired by the runtime's signal posting). Records carry the signal, ``SI_USER``
and the sender's pid (the state keeps no richer siginfo: ``ssi_status`` of a ``SIGCHLD`` is not
filled in).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
import weakref
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, GuestError
from lind_async.core.signals import bit
from lind_async.rawposix.args import i32, pointer, size
from lind_async.rawposix.blocking import block
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.readiness import NO_WATCH, Cancel, Wake, Watchers
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_SIGSET = struct.Struct(L.KERNEL_SIGSET.fmt)
_UNBLOCKABLE = bit(F.SIGKILL) | bit(F.SIGSTOP)
RECORD = L.SIGNALFD_SIGINFO.size
SI_USER = 0
_ANON_DEVICE = 0xE
_inodes = itertools.count(1)


POSTED: weakref.WeakKeyDictionary[CageView, Watchers] = weakref.WeakKeyDictionary()
"""Per cage, what to wake when a signal becomes pending (signalfd's poll/epoll/read waits); the
process layer fires it whenever it posts a signal."""


def posted_watchers(cage: CageView) -> Watchers:
    """What the runtime fires when a signal becomes pending for ``cage``."""
    watchers = POSTED.get(cage)
    if watchers is None:
        watchers = POSTED[cage] = Watchers()
    return watchers


class SignalFd(FileOps):
    __slots__ = ("inode", "mask", "owner")

    def __init__(self, owner: CageView, mask: int, status_flags: int) -> None:
        super().__init__(F.O_RDWR | status_flags)
        self.owner = weakref.ref(owner)
        self.mask = mask & ~_UNBLOCKABLE
        self.inode = next(_inodes)

    def _pending(self, cage: CageView) -> int:
        return cage.signals.pending & self.mask

    def read_into(self, cage: CageView, view: memoryview) -> SysResult:
        if len(view) < RECORD:
            raise GuestError(EINVAL)
        n = self._take(cage, view)
        if n:
            return n
        return block(lambda: self._take(cage, view) or None, lambda left: _posted(cage),
                     nonblocking=bool(self.status_flags & F.O_NONBLOCK))

    def _take(self, cage: CageView, view: memoryview) -> int:
        """Move pending signals of the mask into ``view``, a record each; returns the bytes."""
        done = 0
        state = cage.signals
        while done + RECORD <= len(view):
            ready = state.pending & self.mask
            if not ready:
                break
            signo = (ready & -ready).bit_length()
            state.take(signo)
            view[done : done + RECORD] = L.SIGNALFD_SIGINFO.pack(
                ssi_signo=signo,
                ssi_code=SI_USER,
                ssi_pid=cage.sender.get(signo, 0),
                ssi_uid=os.getuid(),
            )
            done += RECORD
        return done

    def poll_mask(self) -> int:
        owner = self.owner()
        if owner is None or not self._pending(owner):
            return 0
        return F.POLLIN | F.POLLRDNORM

    def watch(self, events: int, wake: Wake) -> Cancel:
        owner = self.owner()
        if owner is None:
            return NO_WATCH
        return posted_watchers(owner).add(wake)

    def stat(self) -> os.stat_result:
        return os.stat_result(
            (0o600, self.inode, _ANON_DEVICE, 1, os.getuid(), os.getgid(), 0, 0, 0, 0),
            {"st_blksize": 4096},
        )


def sys_signalfd4(cage: CageView, fd: int, mask: int, sizemask: int, flags: int, *_: int) -> int:
    how = i32(flags)
    if size(sizemask) != _SIGSET.size or how & ~(F.SFD_CLOEXEC | F.SFD_NONBLOCK):
        raise GuestError(EINVAL)
    (signals,) = cage.mem.unpack(_SIGSET, pointer(mask))
    vfd = i32(fd)
    if vfd == -1:
        sfd = SignalFd(cage, int(signals), how & F.SFD_NONBLOCK)
        return cage.fds.install(sfd, cloexec=bool(how & F.SFD_CLOEXEC))
    existing = cage.fds.file(vfd)
    if not isinstance(existing, SignalFd):
        raise GuestError(EINVAL)
    existing.mask = int(signals) & ~_UNBLOCKABLE
    posted_watchers(cage).fire()  # readiness may have changed with the mask
    return vfd


def sys_signalfd(cage: CageView, fd: int, mask: int, sizemask: int, *_: int) -> int:
    return sys_signalfd4(cage, fd, mask, sizemask, 0)


async def _posted(cage: CageView) -> None:
    """Suspend ``cage`` until a signal is posted to it (``EINTR`` if one is for it)."""
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    cancel = posted_watchers(cage).add(wake)
    try:
        await cage.block_on(ready)
    finally:
        cancel()


ROWS: list[Row] = [
    (nr.SYS_signalfd, sys_signalfd, Support.PARTIAL, "as signalfd4"),
    (nr.SYS_signalfd4, sys_signalfd4, Support.PARTIAL, "siginfo: signo, SI_USER, sender pid"),
]
