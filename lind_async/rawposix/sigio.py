"""Signal-driven I/O: ``O_ASYNC``/``FIOASYNC``, ``F_SETOWN``/``F_GETOWN``(``_EX``),
``F_SETSIG``/``F_GETSIG``.

Theory of operation
-------------------
As on Linux, everything belongs to the *open file description*: ``O_ASYNC`` is one of its status
flags, and its owner (a pid, or a process group as a negative number) and its signal live in an
:class:`_Async` record kept beside it in a weak table, so ``dup``/``fork`` share them and a
description that never used any of this costs nothing (no record, no watch).

While ``O_ASYNC`` is set the record keeps the description's event sources armed, and each event
sends the owner a signal with Linux's reason: ``POLL_IN`` (data, a connection to accept),
``POLL_HUP`` (the peer went) or ``POLL_OUT`` (room to write) — Linux's ``kill_fasync`` on each
event, never again for readiness already signalled:

- in-process events (pipes, in-process sockets, eventfd…): the readiness watch poll and epoll
  use (``FileOps.watch``, rawposix/readiness.py), which wakes on real events only; a wake re-reads
  ``poll_mask()`` for the reason, then re-arms;
- a host fd (host-fd kinds, ``level_watch``; an AF_UNIX socket's host listener or host
  connection, ``async_sources``): its input side through ``edge.py``'s edge-triggered epoll (a
  signal per arrival, however long the data stays unread), and its output side by a one-shot
  watch armed only while the fd is not writable, so ``POLL_OUT`` marks the return of room. When
  room ran out between two looks the host gives no event for it, so that ``POLL_OUT`` can be
  missed (Linux knows from the failed send; ``docs/decisions.md``).

The signal is ``SIGIO``, or the one ``F_SETSIG`` chose; then the handler's ``siginfo_t`` carries
``si_code`` (the reason), ``si_band`` (the poll bits) and ``si_fd`` (the descriptor ``O_ASYNC``
was set through), as Linux fills it only for a non-zero ``F_SETSIG``.

Authority: the owner is whatever ``F_SETOWN`` named (``ESRCH`` if no such process or group), but
a signal reaches a target only if the cage that named the owner may signal it
(``threei/authority.py``'s rule 5, checked at each send, as Linux's ``sigio_perm`` checks the
credentials recorded by ``F_SETOWN``): a cage cannot make a descriptor signal a cage it could not
``kill``. An owner set by a cage that has since left the process table signals nobody.
"""

from __future__ import annotations

import select
import struct
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, ESRCH, GuestError
from lind_async.core.signals import SIGIO
from lind_async.rawposix import edge
from lind_async.rawposix.args import i32, pointer
from lind_async.rawposix.readiness import Cancel, Wake, host_poll_mask, watch_host_fd

if TYPE_CHECKING:
    from lind_async.rawposix.files import FileOps
    from lind_async.rawposix.kernel import CageView, WorldView

F_SETOWN, F_GETOWN, F_SETSIG, F_GETSIG, F_SETOWN_EX, F_GETOWN_EX = 8, 9, 10, 11, 15, 16
COMMANDS = frozenset({F_SETOWN, F_GETOWN, F_SETSIG, F_GETSIG, F_SETOWN_EX, F_GETOWN_EX})
F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP = 0, 1, 2
FIOASYNC = 0x5452
POLL_IN, POLL_OUT, POLL_HUP = 1, 2, 6
_BAND = {
    POLL_IN: F.POLLIN | F.POLLRDNORM,
    POLL_OUT: F.POLLOUT | F.POLLWRNORM | F.POLLWRBAND,
    POLL_HUP: F.POLLHUP | F.POLLERR,
}
_OWNER_EX = struct.Struct("<ii")  # struct f_owner_ex: type, pid
_EPOLL_IN = select.EPOLLIN | select.EPOLLPRI
_EPOLL_HUP = select.EPOLLHUP | select.EPOLLERR | select.EPOLLRDHUP
LocalWatch = Callable[[int, Wake], Cancel]


@dataclass(slots=True)
class _Async:
    owner: int = 0  # a pid, -pgid, 0: nobody
    owner_type: int = F_OWNER_PID
    setter: int = 0  # the cage that named the owner (its authority is checked at each send)
    signo: int = 0  # F_SETSIG (0: SIGIO without details)
    fd: int = -1  # si_fd: the descriptor O_ASYNC was set through
    world: weakref.ref[WorldView] | None = None
    cancel: Cancel | None = None  # the armed in-process watch
    edges: Cancel | None = None  # the host fd's input side (edge.py)
    room: Cancel | None = None  # the host fd's output side, while not writable
    host_fd: int = -1


_STATE: weakref.WeakKeyDictionary[FileOps, _Async] = weakref.WeakKeyDictionary()


def _record(file: FileOps) -> _Async:
    state = _STATE.get(file)
    if state is None:
        state = _STATE[file] = _Async()
    return state


# -- the system-call side ----------
def fcntl(cage: CageView, file: FileOps, command: int, arg: int) -> int:
    """``F_SETOWN``, ``F_GETOWN``, ``F_SETSIG``, ``F_GETSIG``, ``F_SETOWN_EX``, ``F_GETOWN_EX``."""
    state = _STATE.get(file)
    if command == F_GETOWN:
        return 0 if state is None else state.owner
    if command == F_GETSIG:
        return 0 if state is None else state.signo
    if command == F_GETOWN_EX:
        kind, owner = (F_OWNER_PID, 0) if state is None else (state.owner_type, state.owner)
        cage.mem.pack(_OWNER_EX, pointer(arg), kind, abs(owner))
        return 0
    if command == F_SETSIG:
        signo = i32(arg)
        if not 0 <= signo <= F.NSIG:
            raise GuestError(EINVAL)
        _record(file).signo = signo
        return 0
    if command == F_SETOWN:
        who = i32(arg)
        kind = F_OWNER_PGRP if who < 0 else F_OWNER_PID
        _set_owner(cage, file, kind, -who if who < 0 else who)
        return 0
    kind, who = cage.mem.unpack(_OWNER_EX, pointer(arg))  # F_SETOWN_EX
    if kind not in (F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP):
        raise GuestError(EINVAL)
    _set_owner(cage, file, kind, who)
    return 0


def _set_owner(cage: CageView, file: FileOps, kind: int, who: int) -> None:
    if who == -(2**31):
        raise GuestError(EINVAL)
    procs = cage.world.procs
    if who and not (who in procs or (kind == F_OWNER_PGRP and procs.group(who))):
        raise GuestError(ESRCH)  # threads are not processes here: F_OWNER_TID names a pid
    state = _record(file)
    state.owner_type = kind
    state.owner = -who if kind == F_OWNER_PGRP else who
    state.setter = cage.cage_id
    state.world = weakref.ref(cage.world)


def set_async(cage: CageView, fd: int, file: FileOps, on: bool) -> None:
    """``O_ASYNC`` was turned on or off (``F_SETFL``, ``FIOASYNC``) through descriptor ``fd``."""
    if on:
        file.status_flags |= F.O_ASYNC
        state = _record(file)
        state.fd = fd
        if state.world is None:
            state.world = weakref.ref(cage.world)
        if state.cancel is None and state.edges is None and state.room is None:
            _arm(file, state)
    else:
        file.status_flags &= ~F.O_ASYNC
        if (old := _STATE.get(file)) is not None:
            _disarm(old)


def fioasync(cage: CageView, fd: int, file: FileOps, arg: int) -> int:
    set_async(cage, fd, file, bool(cage.mem.read_u32(pointer(arg))))
    return 0


def rearm(file: FileOps) -> None:
    """``file``'s event sources changed (an AF_UNIX socket got a host listener or connection):
    an ``O_ASYNC`` description watches the new ones."""
    state = _STATE.get(file)
    if state is not None and file.status_flags & F.O_ASYNC:
        _disarm(state)
        _arm(file, state)


# -- the readiness side ----------
def _sources(file: FileOps) -> tuple[int, LocalWatch | None]:
    """What signals ``file``: a host fd (-1: none) and an in-process watch (None: none). A kind
    with both says so with an ``async_sources()`` method (``unix_socket.py``)."""
    split = getattr(file, "async_sources", None)
    if split is not None:
        host_fd, local = split()
        return int(host_fd), local
    if file.level_watch:
        for attr in ("fd", "host_fd"):  # InetSocket; HostFile and HostStream
            host_fd = getattr(file, attr, None)
            if isinstance(host_fd, int):
                return host_fd, None
        return -1, None
    return -1, file.watch


def _disarm(state: _Async) -> None:
    for cancel in (state.cancel, state.edges, state.room):
        if cancel is not None:
            cancel()
    state.cancel = state.edges = state.room = None
    state.host_fd = -1


def _arm(file: FileOps, state: _Async) -> None:
    host_fd, local = _sources(file)
    ref = weakref.ref(file)
    if local is not None:
        state.cancel = local(F.POLLIN | F.POLLOUT, lambda: _fired(ref, state))
    if host_fd >= 0:
        state.host_fd = host_fd
        state.edges = edge.watch_edges(host_fd, lambda events: _edge(ref, state, events))
        if state.edges is not None:  # a description closed while watched is let go when freed
            weakref.finalize(file, state.edges)
        _arm_room(ref, state)


def _alive(ref: weakref.ref[FileOps], state: _Async) -> FileOps | None:
    file = ref()
    if file is None or file.refs <= 0 or not file.status_flags & F.O_ASYNC:
        _disarm(state)  # the description went away (or O_ASYNC went off): nothing stays armed
        return None
    return file


def _fired(ref: weakref.ref[FileOps], state: _Async) -> None:
    """An in-process event."""
    state.cancel = None
    file = _alive(ref, state)
    if file is None:
        return
    mask = file.poll_mask()
    if mask & (F.POLLIN | F.POLLRDNORM):
        _send(state, POLL_IN)
    elif mask & (F.POLLHUP | F.POLLERR):
        _send(state, POLL_HUP)
    elif mask & F.POLLOUT:
        _send(state, POLL_OUT)
    if state.cancel is None and (local := _sources(file)[1]) is not None:
        state.cancel = local(F.POLLIN | F.POLLOUT, lambda: _fired(ref, state))


def _edge(ref: weakref.ref[FileOps], state: _Async, events: int) -> None:
    """A new event on the host fd's input side."""
    if _alive(ref, state) is None:
        return
    if events & _EPOLL_IN:
        _send(state, POLL_IN)
    elif events & _EPOLL_HUP:
        _send(state, POLL_HUP)
    _arm_room(ref, state)


def _arm_room(ref: weakref.ref[FileOps], state: _Async) -> None:
    """Watch for room to write on the host fd, if there is none now (one-shot)."""
    if state.room is not None or host_poll_mask(state.host_fd, F.POLLOUT) & F.POLLOUT:
        return

    def room() -> None:
        state.room = None
        if _alive(ref, state) is None:
            return
        if host_poll_mask(state.host_fd, F.POLLOUT) & F.POLLOUT:
            _send(state, POLL_OUT)
        _arm_room(ref, state)

    state.room = watch_host_fd(state.host_fd, writable=True, wake=room)


def _send(state: _Async, reason: int) -> None:
    world = state.world() if state.world is not None else None
    if world is None or not state.owner:
        return
    procs = world.procs
    if state.setter not in procs:
        return
    targets = procs.group(-state.owner) if state.owner < 0 else [state.owner]
    signo = state.signo or SIGIO
    info = (reason, _BAND[reason], state.fd) if state.signo else None
    authority = world.authority
    for pid in targets:
        cage = world.cages.get(pid)
        if cage is not None and authority.may_signal(state.setter, pid, nr.SYS_fcntl, signo):
            cage.post_signal(signo, 0, info)
