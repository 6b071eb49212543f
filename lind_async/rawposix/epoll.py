"""RawPOSIX epoll: an interest list of open file descriptions, level- and edge-triggered.

Theory of operation
-------------------
An :class:`Epoll` is itself an open file description (pollable: it can sit in another epoll or
in a poll set). Its interest list holds ``(fd, description)`` entries, as Linux's: the
description is held *weakly* and an entry goes away when the last descriptor of the description
closes (its ``refs`` drop to 0, or the object dies), not when one of several ``dup``\\s closes.

Each entry registers a ``watch`` (rawposix/readiness.py) on its description. A wake marks the
entry *changed*, drops the registration (wakes are one-shot here, whatever the kind) and puts the
entry on the *ready list*: the candidates ``epoll_wait`` re-checks with ``poll_mask()``. So a
round costs the active entries, not the whole interest list. The invariant: an entry off the
ready list is armed. A candidate found not ready leaves the list and is re-armed; a reported
level-triggered entry stays a candidate (it is checked again next round, as Linux re-queues it);
a reported edge-triggered one leaves the list, re-armed, ``changed`` cleared; ``EPOLLONESHOT``
disables an entry until ``EPOLL_CTL_MOD``.

The hot path (``gather``): a plain level-triggered entry asking only for input on a pipe's read
end or an in-process AF_UNIX socket carries a *probe* (the pipe's buffer, or the socket, whose
``hot`` names its stream while it is a plain connected stream): it is reported while the probe
says "readable and nothing else to tell" without a ``poll_mask`` call; in any other state it
takes the general path, which asks ``poll_mask``. Every entry keeps its ``struct epoll_event``
packed, so a round joins records and copies them into the guest's array once.

Edge-triggered semantics: an entry is reported when ready *and* woken since its last report
(``ADD``/``MOD`` count as a change, as Linux checks readiness on insertion). In-process kinds
(pipes, eventfd, timerfd, signalfd, epoll, in-process sockets) wake on real events only, so this
is Linux's behaviour. Host-fd kinds are watched through the loop, which is level-triggered: a
watch re-armed while the host fd is still ready fires at once, so a host fd left ready after an
edge-triggered report is reported again (at most once per ``epoll_wait``) rather than missed:
an approximation that errs on the side of a spurious event, never a lost one.
"""

from __future__ import annotations

import itertools
import os
import stat as stat_mod
import struct
import weakref
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EEXIST, EINVAL, ELOOP, ENOENT, EPERM, GuestError
from lind_async.core.pipe import PipeBuffer
from lind_async.memory import GuestMemory
from lind_async.rawposix.args import i32, pointer, size
from lind_async.rawposix.files import FileOps, SysResult
from lind_async.rawposix.pipe import PipeEnd
from lind_async.rawposix.readiness import Cancel, Wake, Watchers, wait_ready, with_sigmask
from lind_async.rawposix.table import Row, Support
from lind_async.rawposix.unix_socket import UnixSocket

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_EVENT = struct.Struct(L.EPOLL_EVENT.fmt)  # events, data
_EVENT_SIZE = _EVENT.size
_SIGSET = struct.Struct(L.KERNEL_SIGSET.fmt)
_TIMESPEC = struct.Struct(L.TIMESPEC.fmt)
_ALWAYS = F.EPOLLERR | F.EPOLLHUP
_INPUT = F.EPOLLIN | F.EPOLLRDNORM
_PROBED = _INPUT | F.EPOLLRDHUP | _ALWAYS  # the bits a probed entry may ask for
_EXCLUSIVE_OK = F.EPOLLIN | F.EPOLLOUT | F.EPOLLERR | F.EPOLLHUP | F.EPOLLWAKEUP | F.EPOLLET
MAX_NESTS = 4  # Linux EP_MAX_NESTS
MAX_EVENTS = 0x7FFFFFFF // _EVENT.size
_ANON_DEVICE = 0xE  # anon_inodefs
_inodes = itertools.count(1)


class _Entry:
    """One ``(fd, description)`` on an interest list."""

    __slots__ = ("cancel", "changed", "data", "disabled", "events", "fd", "file", "inrecord", "key",
                 "level", "mask", "pipe", "record", "sock", "want")

    def __init__(self, key: tuple[int, int], fd: int, file: weakref.ref[FileOps]) -> None:
        self.key = key
        self.fd = fd
        self.file = file
        self.events = 0
        self.data = 0
        self.want = 0  # the poll bits reported: the events asked, errors and hang-ups
        self.level = True  # plain level-triggered (no EPOLLET, no EPOLLONESHOT): the fast path
        self.changed = True  # ADD/MOD: readiness is checked as if it had just changed
        self.disabled = False  # EPOLLONESHOT fired
        self.cancel: Cancel | None = None  # the armed watch, if any
        # A probe (see _probe): a plain level-triggered entry asking only for input, on a pipe's
        # read end or an in-process AF_UNIX socket, is checked without calling poll_mask.
        self.pipe: PipeBuffer | None = None
        self.sock: UnixSocket | None = None
        self.mask = 0  # the events last reported through poll_mask
        self.record = b""  # the guest's struct epoll_event for them, packed once
        self.inrecord = b""  # a probed entry's record when readable: POLLIN|POLLRDNORM & want

    def set(self, events: int, data: int, file: FileOps) -> None:
        self.events = events | _ALWAYS
        self.data = data
        self.want = want = (events | _ALWAYS) & ~F.EPOLLEXCLUSIVE
        self.level = level = not events & (F.EPOLLET | F.EPOLLONESHOT)
        self.inrecord = self.report(want & _INPUT)
        self.pipe = self.sock = None
        if level and not want & ~_PROBED and self.mask:
            kind = type(file).poll_mask
            if kind is PipeEnd.poll_mask and isinstance(file, PipeEnd) and file.reading:
                self.pipe = file.pipe.buffer
            elif kind is UnixSocket.poll_mask and isinstance(file, UnixSocket):
                self.sock = file

    def report(self, mask: int) -> bytes:
        """The record reporting ``mask`` (kept: the next report is most likely the same)."""
        self.mask = mask
        self.record = record = _EVENT.pack(mask, self.data)
        return record


class Epoll(FileOps):
    """An epoll instance (one open file description)."""

    __slots__ = ("entries", "inode", "left", "ready", "watchers")

    def __init__(self, status_flags: int = 0) -> None:
        super().__init__(F.O_RDWR | status_flags)
        self.entries: dict[tuple[int, int], _Entry] = {}
        self.ready: dict[_Entry, None] = {}  # candidates, an ordered set
        self.left = 0  # entries gone off the ready list since it was last compacted
        self.watchers = Watchers()  # poll/select/epoll_wait/nested epolls watching this one
        self.inode = next(_inodes)

    # -- the interest list ------------------------------------------------------------------------
    def add(self, fd: int, file: FileOps, events: int, data: int) -> None:
        key = (fd, id(file))
        if key in self.entries:
            raise GuestError(EEXIST)
        this = weakref.ref(self)

        def gone(_ref: object) -> None:
            epoll = this()
            if epoll is not None:
                epoll.forget(key)

        entry = _Entry(key, fd, weakref.ref(file, gone))
        entry.set(events, data, file)
        self.entries[key] = entry
        self._queue(entry)

    def modify(self, fd: int, file: FileOps, events: int, data: int) -> None:
        entry = self._find(fd, file)
        if entry.events & F.EPOLLEXCLUSIVE:
            raise GuestError(EINVAL)
        entry.set(events, data, file)
        entry.disabled = False
        entry.changed = True
        if entry.cancel is not None:  # re-armed for the new events when next off the ready list
            entry.cancel()
            entry.cancel = None
        self._queue(entry)

    def delete(self, fd: int, file: FileOps) -> None:
        self.forget(self._find(fd, file).key)

    def _find(self, fd: int, file: FileOps) -> _Entry:
        entry = self.entries.get((fd, id(file)))
        if entry is None or entry.file() is not file:
            raise GuestError(ENOENT)
        return entry

    def forget(self, key: tuple[int, int]) -> None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        if self.ready.pop(entry, 0) is None:
            self.left += 1
        if entry.cancel is not None:
            entry.cancel()
            entry.cancel = None

    # -- readiness --------------------------------------------------------------------------------
    def _queue(self, entry: _Entry) -> None:
        """Make ``entry`` a candidate and tell whoever watches this epoll."""
        self.ready[entry] = None
        self.watchers.fire()

    def _arm(self, entry: _Entry) -> None:
        if entry.cancel is not None:
            return
        file = entry.file()
        if file is None:
            return

        def wake() -> None:
            if entry.cancel is not None:
                entry.cancel()
                entry.cancel = None
            entry.changed = True
            if self.entries.get(entry.key) is entry:
                self._queue(entry)

        entry.cancel = file.watch(entry.events, wake)

    def _alive(self, entry: _Entry) -> FileOps | None:
        file = entry.file()
        if file is None or file.refs <= 0:
            self.forget(entry.key)
            return None
        return file

    def collect(self, maxevents: int) -> list[tuple[int, int]]:
        """Take up to ``maxevents`` ready ``(events, data)`` pairs off the ready list."""
        return [_EVENT.unpack(record) for record in self.gather(maxevents)]

    def gather(self, maxevents: int) -> list[bytes]:
        """:meth:`collect` as the guest's ``struct epoll_event`` records (joined and copied
        into its array at once).

        Level-triggered entries reported stay candidates; when ``maxevents`` cut the round
        short they move behind the rest (Linux's round robin)."""
        ready = self.ready
        out: list[bytes] = []
        if not ready:
            return out
        if len(ready) > maxevents:
            return self._gather_some(maxevents)
        append = out.append
        try:
            # The hot path: level-triggered candidates still ready, reported and left in place.
            # Nothing here changes the list, so it is walked without a copy up to the first
            # candidate that needs more (a description dying meanwhile, through its weak
            # reference, would change it: then the whole round starts again below). A probed
            # entry is ready for input exactly when poll_mask() & want would be its inmask:
            # a pipe's read end while data is buffered and a writer is left, a socket while
            # ``hot`` (UnixSocket.recheck: a plain connected stream) with data queued. In any
            # other state it takes the general path below, which asks poll_mask().
            for entry in ready:
                file = entry.file()
                if file is None or file.refs <= 0:
                    break
                buffer = entry.pipe
                if buffer is not None:
                    if not buffer.data or not buffer.writers:
                        break
                    append(entry.inrecord)
                elif (sock := entry.sock) is not None:
                    stream = sock.hot
                    if stream is None or not stream.size:
                        break
                    append(entry.inrecord)
                else:
                    if not entry.level:
                        break
                    mask = file.poll_mask() & entry.want
                    if not mask:
                        break
                    append(entry.record if mask == entry.mask else entry.report(mask))
            else:
                return out
        except RuntimeError:
            out.clear()
        before = len(ready)
        for entry in list(ready)[len(out):]:
            file = entry.file()
            if entry.level and file is not None and file.refs > 0:
                mask = file.poll_mask() & entry.want
                if mask:  # reported: a candidate again next round
                    append(entry.record if mask == entry.mask else entry.report(mask))
                    continue
            self._look(entry, file, out)
        if len(self.ready) < before:
            self._shrunk(before)
        return out

    def _shrunk(self, before: int) -> None:
        """Entries left the ready list. A dict keeps the slots of deleted keys (and iterating
        walks them) until an insertion makes it resize: after 1,000 idle fds were checked once,
        a ready list of 10 kept in place cost 1,010 slots a round (22 us in a cage). Copy it
        once the slots left behind outnumber the live ones."""
        ready = self.ready
        self.left += before - len(ready)
        if self.left > 32 and self.left > 2 * len(ready):
            self.ready = dict(ready)
            self.left = 0

    def _gather_some(self, maxevents: int) -> list[bytes]:
        """:meth:`gather` when there are more candidates than ``maxevents``."""
        ready = self.ready
        out: list[bytes] = []
        again: list[_Entry] = []  # level-triggered entries reported
        before = len(ready)
        for entry in list(ready):
            if len(out) >= maxevents:
                for entry in again:  # behind the candidates not looked at
                    del ready[entry]
                    ready[entry] = None
                break
            file = entry.file()
            if entry.level and file is not None and file.refs > 0:
                mask = file.poll_mask() & entry.want
                if mask:
                    out.append(entry.record if mask == entry.mask else entry.report(mask))
                    again.append(entry)
                    continue
            self._look(entry, file, out)
        if len(self.ready) < before:
            self._shrunk(before)
        return out

    def _look(self, entry: _Entry, file: FileOps | None, out: list[bytes]) -> None:
        """A candidate off the fast path: gone, level-triggered and not ready, edge-triggered
        or one-shot. Off the ready list unless a level-triggered one is reported."""
        if file is None or file.refs <= 0:
            self.forget(entry.key)
            return
        if self.ready.pop(entry, 0) is not None:
            return  # forgotten meanwhile
        if entry.disabled:
            return
        events = entry.events
        mask = file.poll_mask() & entry.want
        if not mask:
            entry.changed = False
            self._arm(entry)
            return
        if events & F.EPOLLET:
            if not entry.changed:
                self._arm(entry)
                return
            entry.changed = False
        out.append(entry.record if mask == entry.mask else entry.report(mask))
        if events & F.EPOLLONESHOT:
            entry.disabled = True
        elif events & F.EPOLLET:
            self._arm(entry)  # armed for the next change
        else:
            self.ready[entry] = None  # level-triggered: a candidate again next round

    def poll_mask(self) -> int:
        """Readable when ``epoll_wait`` would report something (nothing is consumed)."""
        before = len(self.ready)
        try:
            for entry in list(self.ready):
                if entry not in self.ready:
                    continue
                file = self._alive(entry)
                if file is None or entry.disabled:
                    self.ready.pop(entry, None)
                    continue
                mask = file.poll_mask() & entry.want
                if mask and (entry.changed or not entry.events & F.EPOLLET):
                    return F.POLLIN | F.POLLRDNORM
                if not mask:
                    del self.ready[entry]
                    entry.changed = False
                    self._arm(entry)
            return 0
        finally:
            if len(self.ready) < before:
                self._shrunk(before)

    def watch(self, events: int, wake: Wake) -> Cancel:
        # Every entry off the ready list is armed already: its wake reaches our watchers.
        return self.watchers.add(wake)

    def nested(self) -> list[Epoll]:
        """The epoll instances directly on this interest list."""
        out = []
        for entry in self.entries.values():
            file = entry.file()
            if isinstance(file, Epoll):
                out.append(file)
        return out

    def depth(self) -> int:
        """How deep epolls nest below this one (0: none)."""
        return max((1 + inner.depth() for inner in self.nested()), default=0)

    def reaches(self, target: Epoll) -> bool:
        return any(inner is target or inner.reaches(target) for inner in self.nested())

    # -- the rest ---------------------------------------------------------------------------------
    def stat(self) -> os.stat_result:
        return os.stat_result(
            (0o600, self.inode, _ANON_DEVICE, 1, os.getuid(), os.getgid(), 0, 0, 0, 0),
            {"st_blksize": 4096},
        )

    def release(self) -> None:
        for key in list(self.entries):
            self.forget(key)
        self.ready.clear()


def pollable(file: FileOps) -> bool:
    """Can ``file`` be watched (Linux: has a ``poll`` file operation)? Regular files,
    directories and devices like /dev/null cannot: ``epoll_ctl`` answers ``EPERM``."""
    if type(file).watch is FileOps.watch:
        return False
    try:
        mode = file.stat().st_mode
    except (GuestError, OSError):
        return True
    return not (stat_mod.S_ISREG(mode) or stat_mod.S_ISDIR(mode))


# ---------------------------------------------------------------------------------- syscalls
def _create(cage: CageView, flags: int) -> int:
    if flags & ~F.EPOLL_CLOEXEC:
        raise GuestError(EINVAL)
    epoll = Epoll()
    try:
        return cage.fds.install(epoll, cloexec=bool(flags & F.EPOLL_CLOEXEC))
    except GuestError:
        epoll.release()
        raise


def sys_epoll_create(cage: CageView, size_hint: int, *_: int) -> int:
    if i32(size_hint) <= 0:
        raise GuestError(EINVAL)
    return _create(cage, 0)


def sys_epoll_create1(cage: CageView, flags: int, *_: int) -> int:
    return _create(cage, i32(flags))


def sys_epoll_ctl(cage: CageView, epfd: int, op: int, fd: int, event: int, *_: int) -> int:
    operation = i32(op)
    events = data = 0
    if operation != F.EPOLL_CTL_DEL:
        events, data = cage.mem.unpack(_EVENT, pointer(event))
    epoll_file = cage.fds.file(i32(epfd))
    target_fd = i32(fd)
    target: FileOps = cage.fds.file(target_fd)  # type: ignore[assignment]
    if not pollable(target):
        raise GuestError(EPERM)
    if not isinstance(epoll_file, Epoll) or target is epoll_file:
        raise GuestError(EINVAL)
    epoll = epoll_file
    events &= ~F.EPOLLWAKEUP  # needs CAP_BLOCK_SUSPEND; Linux drops it silently without
    if events & F.EPOLLEXCLUSIVE:
        if operation == F.EPOLL_CTL_MOD:
            raise GuestError(EINVAL)
        if operation == F.EPOLL_CTL_ADD and (
            isinstance(target, Epoll) or events & ~(_EXCLUSIVE_OK | F.EPOLLEXCLUSIVE)
        ):
            raise GuestError(EINVAL)
    if operation == F.EPOLL_CTL_ADD:
        if isinstance(target, Epoll) and (
            target.reaches(epoll) or target.depth() >= MAX_NESTS
        ):
            raise GuestError(ELOOP)
        epoll.add(target_fd, target, events, data)
    elif operation == F.EPOLL_CTL_MOD:
        epoll.modify(target_fd, target, events, data)
    elif operation == F.EPOLL_CTL_DEL:
        epoll.delete(target_fd, target)
    else:
        raise GuestError(EINVAL)
    return 0


def _wait(
    cage: CageView, epfd: int, events: int, maxevents: int, timeout_ns: int | None
) -> SysResult:
    # (the argument decoders inlined: this is the hot call of an event loop)
    count = maxevents & 0xFFFFFFFF  # a negative int is above MAX_EVENTS too
    if not 0 < count <= MAX_EVENTS:
        raise GuestError(EINVAL)
    base = events & 0xFFFFFFFFFFFFFFFF  # memory.pointer, inline
    if base >= 0xFFFFFFFF80000000:
        base &= 0xFFFFFFFF
    mem = cage.mem
    mem.check(base, count * _EVENT_SIZE)
    epoll = cage.fds.file(epfd & 0xFFFFFFFF)  # a negative fd is EBADF as a huge one
    if epoll.__class__ is not Epoll and not isinstance(epoll, Epoll):
        raise GuestError(EINVAL)
    found = epoll.gather(count)
    if found:
        # The whole array was checked above and nothing since could shrink the memory or
        # refresh its view: the records are copied straight in (mem.write checks again).
        blob = b"".join(found)
        if mem.__class__ is GuestMemory:
            mem.view[base : base + len(blob)] = blob
        else:  # a grate's forwarded call: CompositeMemory resolves the address
            mem.write(base, blob)
        return len(found)
    if timeout_ns == 0:
        return 0
    return _wait_later(cage, epoll, base, count, timeout_ns)


def _deliver(mem: GuestMemory, base: int, found: list[bytes]) -> int:
    """Write the records into the guest's array; the event count."""
    if found:
        mem.write(base, b"".join(found))
    return len(found)


async def _wait_later(
    cage: CageView, epoll: Epoll, base: int, count: int, timeout_ns: int | None
) -> int:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = None if timeout_ns is None else loop.time() + timeout_ns / 1e9
    while True:  # (not blocking.block: a timeout returns 0 events, not an error)
        left = None if deadline is None else max(0.0, deadline - loop.time())
        await wait_ready(cage, [(epoll, F.POLLIN)], left)
        found = epoll.gather(count)
        if found or (deadline is not None and loop.time() >= deadline):
            return _deliver(cage.mem, base, found)


def _ms(timeout: int) -> int | None:
    ms = i32(timeout)
    return ms * 1_000_000 if ms >= 0 else None


def sys_epoll_wait(
    cage: CageView, epfd: int, events: int, maxevents: int, timeout: int, *_: int
) -> SysResult:
    return _wait(cage, epfd, events, maxevents, _ms(timeout))


def _pwait(
    cage: CageView, number: int, epfd: int, events: int, maxevents: int, timeout_ns: int | None,
    sigmask: int, sigsetsize: int,
) -> SysResult:
    if not pointer(sigmask):
        return _wait(cage, epfd, events, maxevents, timeout_ns)
    if size(sigsetsize) != _SIGSET.size:
        raise GuestError(EINVAL)
    (mask,) = cage.mem.unpack(_SIGSET, pointer(sigmask))

    async def work() -> int:
        result = _wait(cage, epfd, events, maxevents, timeout_ns)
        return result if isinstance(result, int) else await result

    return with_sigmask(cage, int(mask), number, work())


def sys_epoll_pwait(
    cage: CageView, epfd: int, events: int, maxevents: int, timeout: int, sigmask: int,
    sigsetsize: int,
) -> SysResult:
    if not sigmask & 0xFFFFFFFFFFFFFFFF:  # NULL (musl's epoll_wait): one frame less
        ms = timeout & 0xFFFFFFFF
        return _wait(cage, epfd, events, maxevents, None if ms & 0x80000000 else ms * 1_000_000)
    return _pwait(
        cage, nr.SYS_epoll_pwait, epfd, events, maxevents, _ms(timeout), sigmask, sigsetsize
    )


def sys_epoll_pwait2(
    cage: CageView, epfd: int, events: int, maxevents: int, timeout: int, sigmask: int,
    sigsetsize: int,
) -> SysResult:
    timeout_ns = None
    if pointer(timeout):
        sec, nsec, _pad = cage.mem.unpack(_TIMESPEC, pointer(timeout))
        if sec < 0 or not 0 <= nsec < 1_000_000_000:
            raise GuestError(EINVAL)
        timeout_ns = int(sec) * 1_000_000_000 + int(nsec)
    return _pwait(
        cage, nr.SYS_epoll_pwait2, epfd, events, maxevents, timeout_ns, sigmask, sigsetsize
    )


ROWS: list[Row] = [
    (nr.SYS_epoll_create, sys_epoll_create, Support.FULL, ""),
    (nr.SYS_epoll_create1, sys_epoll_create1, Support.FULL, "EPOLL_CLOEXEC"),
    (nr.SYS_epoll_ctl, sys_epoll_ctl, Support.FULL, "ET/LT, ONESHOT, RDHUP; EXCLUSIVE accepted"),
    (nr.SYS_epoll_wait, sys_epoll_wait, Support.FULL, "ET over host fds: see rawposix/epoll.py"),
    (nr.SYS_epoll_pwait, sys_epoll_pwait, Support.FULL, "sigmask for the wait"),
    (nr.SYS_epoll_pwait2, sys_epoll_pwait2, Support.FULL, "timespec timeout"),
]
