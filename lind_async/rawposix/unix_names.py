"""AF_UNIX names: the per-world registry of bound sockets, socket nodes in the root, lookup.

Every registry key starts with the cage's *world* (``runtime/world.py``), i.e. one root of one
microvisor, the unit that already bounds pids and signals. Abstract names (``sun_path[0] == 0``)
are registered by their bytes, so they form one namespace per world; a path name is registered
under the host ``(st_dev, st_ino)`` of the socket node ``bind`` creates inside the root (``mknod
S_IFSOCK`` through the confined parent directory, so ``stat``, ``unlink`` and ``EADDRINUSE``
behave as on Linux), and the bound socket keeps an ``O_PATH`` fd on the node for its life (the
inode number cannot be reused meanwhile). ``connect``/``sendto`` resolve the guest path confined
to the root, check it is a socket node and look it up in the caller's world: no socket, and no
``SCM_RIGHTS`` descriptor, crosses from one world to another. When the embedder lets a path name
be reached from the host, the node is a bound host socket instead (``host_unix.py``); it is
registered the same way, so cages still connect in-process. Under the same opt-in, ``connect``
to a socket node no cage of the world bound dials the host socket there (:func:`connect_target`).
"""

from __future__ import annotations

import itertools
import os
import stat as stat_mod
from typing import TYPE_CHECKING, Any

from lind_async.abi.errno import EADDRINUSE, ECONNREFUSED, EINVAL, EPROTOTYPE, GuestError
from lind_async.rawposix import host_unix, hostfds
from lind_async.rawposix.confine import guest_join
from lind_async.rawposix.sock_addr import unix_name

if TYPE_CHECKING:
    from lind_async.rawposix.host_unix import HostDial, HostListener
    from lind_async.rawposix.kernel import CageView

Key = tuple[object, ...]
Bound = tuple[bytes, Key, int, "HostListener | None"]
_REGISTRY: dict[Key, Any] = {}  # (world, abstract name | dev, ino) -> UnixSocket
_autobind = itertools.count(1)


def world_of(cage: CageView) -> object:
    """The world a cage belongs to (one root of one microvisor): the key of its socket names."""
    return cage.world


def credentials(cage: CageView) -> tuple[int, int, int]:
    return cage.cage_id, os.getuid(), os.getgid()


def register(cage: CageView, name: bytes | None, sock: Any) -> Bound:
    """Bind ``sock`` to ``name`` (``None``: autobind an abstract name); ``(name, key, O_PATH fd
    of the node or -1, the host listener when the node is host-reachable)``."""
    if name is None:
        name = b"\0" + b"%05x" % next(_autobind)
    node_fd, host = -1, None
    if name[0] == 0:
        key: Key = (world_of(cage), name)
        if key in _REGISTRY:
            raise GuestError(EADDRINUSE)
    else:
        node_fd, key, host = _make_node(cage, name, sock.stype)
    _REGISTRY[key] = sock
    return name, key, node_fd, host


def unregister(key: Key | None, sock: object) -> None:
    if key is not None and _REGISTRY.get(key) is sock:
        del _REGISTRY[key]


def _make_node(cage: CageView, name: bytes, stype: int) -> tuple[int, Key, HostListener | None]:
    """Create the socket node of a path name in the root: ``mknod``, or a bound host socket
    when the embedder lets this name be reached from the host (``host_unix.py``);
    ``(O_PATH fd, registry key, host listener or None)``."""
    path = guest_join(cage.cwd, name)
    mode = 0o777 & ~cage.umask
    host = None
    with cage.world.root.parent(path) as (dir_fd, last):
        if last in (b".", b".."):
            raise GuestError(EADDRINUSE)
        if host_unix.allowed(cage, path, stype):
            sock = host_unix.bind_host(dir_fd, last, stype)
            host = host_unix.HostListener(sock) if sock is not None else None
        try:
            if host is None:
                os.mknod(last, stat_mod.S_IFSOCK | mode, dir_fd=dir_fd)
            path_only = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = hostfds.open_fd(lambda: os.open(last, path_only, dir_fd=dir_fd))
        except FileExistsError:
            raise GuestError(EADDRINUSE) from None
        except BaseException:
            if host is not None:
                host.close()
                os.unlink(last, dir_fd=dir_fd)
            raise
    if host is not None:
        host_unix.set_mode(fd, mode)
    st = os.fstat(fd)
    return fd, (world_of(cage), st.st_dev, st.st_ino), host


def lookup(cage: CageView, raw: bytes, stype: int) -> Any:
    """The socket bound to the guest address ``raw`` (``ECONNREFUSED`` when none listens,
    ``EPROTOTYPE`` when it is of another type)."""
    return _checked(_find(cage, raw, dial=False), stype)


def connect_target(cage: CageView, raw: bytes, stype: int) -> Any:
    """As :func:`lookup`, for ``connect``: a path name whose socket node no cage of the world
    bound is a :class:`~lind_async.rawposix.host_unix.HostDial` when the embedder lets cages
    reach host sockets there (the host then answers ``ECONNREFUSED``/``EPROTOTYPE`` itself)."""
    found = _find(cage, raw, dial=True)
    return found if isinstance(found, host_unix.HostDial) else _checked(found, stype)


def _find(cage: CageView, raw: bytes, *, dial: bool) -> Any:
    name = unix_name(raw)
    if name is None:
        raise GuestError(EINVAL)
    if name[0] == 0:
        return _REGISTRY.get((world_of(cage), name))
    fd = cage.world.root.open(guest_join(cage.cwd, name), os.O_PATH)
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISSOCK(st.st_mode):
            raise GuestError(ECONNREFUSED)
        target = _REGISTRY.get((world_of(cage), st.st_dev, st.st_ino))
        if target is None and dial and (where := host_unix.may_dial(cage, fd)) is not None:
            found: HostDial = host_unix.HostDial(fd, where)
            fd = -1  # the dial owns it now
            return found
        return target
    finally:
        if fd >= 0:
            os.close(fd)


def _checked(target: Any, stype: int) -> Any:
    if target is None or target.closed:
        raise GuestError(ECONNREFUSED)
    if target.stype != stype:
        raise GuestError(EPROTOTYPE)
    return target
