"""What the System V IPC families share (rawposix/sysv_shm.py, sysv_sem.py, sysv_msg.py): the
world's namespace (core/ipc_ns.py), the caller's credentials, the clock, ``struct ipc_perm`` in
and out, and the wait queue of each object.

A world is the cages of one microvisor (docs/security.md), so its namespace is kept per
``cage.world``: fork children, other cages of the root and grates acting for them share it;
another root does not see it. Objects live until removed or until the world ends.
"""

from __future__ import annotations

import os
import time
import weakref
from typing import TYPE_CHECKING

from lind_async.abi.layouts import StructLayout
from lind_async.core.ipc import IPC_64, IpcObject, Perm
from lind_async.core.ipc_ns import IpcNamespace
from lind_async.rawposix.blocking import WaitQueue
from lind_async.rawposix.shm import SharedAnon

if TYPE_CHECKING:
    from lind_async.memory import GuestMemory
    from lind_async.rawposix.kernel import CageView

_namespaces: weakref.WeakKeyDictionary[object, IpcNamespace] = weakref.WeakKeyDictionary()
_queues: weakref.WeakKeyDictionary[IpcObject, WaitQueue] = weakref.WeakKeyDictionary()


def namespace(cage: CageView) -> IpcNamespace:
    world = cage.world
    ns = _namespaces.get(world)
    if ns is None:
        ns = _namespaces[world] = IpcNamespace()
        weakref.finalize(world, _world_ended, ns)
    return ns


def _world_ended(ns: IpcNamespace) -> None:
    """The world is gone: segments nobody removed give their host pages back (as a namespace's
    end destroys them on Linux)."""
    for seg in ns.shm.objects():
        pages = seg.backing
        if isinstance(pages, SharedAnon) and pages.fd >= 0:
            os.close(pages.fd)
            pages.fd = -1


def existing_namespace(cage: CageView) -> IpcNamespace | None:
    return _namespaces.get(cage.world)


def credentials() -> tuple[int, int]:
    """The caller's (uid, gid): a cage runs as the microvisor's user (rawposix/proc.py)."""
    return os.getuid(), os.getgid()


def now() -> int:
    return int(time.time())


def command(cmd: int) -> int:
    """A ``*ctl`` command without musl's ``IPC_64``."""
    return cmd & ~IPC_64


def perm_fields(prefix: str, perm: Perm, mode: int) -> dict[str, int]:
    """``struct ipc_perm``'s fields for :meth:`StructLayout.pack_into`."""
    return {f"{prefix}.key": perm.key, f"{prefix}.uid": perm.uid, f"{prefix}.gid": perm.gid,
            f"{prefix}.cuid": perm.cuid, f"{prefix}.cgid": perm.cgid, f"{prefix}.mode": mode,
            f"{prefix}.seq": perm.seq}


def read_set(mem: GuestMemory, addr: int, layout: StructLayout, prefix: str
             ) -> dict[str, int]:
    """An ``IPC_SET`` argument: every field of ``layout`` at ``addr`` (``EFAULT`` if outside)."""
    got = layout.unpack_from(mem.read(addr, layout.size))
    return {name.removeprefix(prefix + "."): int(v) for name, v in got.items()
            if isinstance(v, int)}


def queue(obj: IpcObject) -> WaitQueue:
    """Callers waiting for ``obj`` to change (every change wakes them all; they look again)."""
    q = _queues.get(obj)
    if q is None:
        q = _queues[obj] = WaitQueue()
    return q


def changed(obj: IpcObject) -> None:
    q = _queues.get(obj)
    if q is not None:
        q.wake_all()
