"""``namespace`` — a clamping grate: calls on paths under a prefix go to clamped grates.

    python -m lind_async run --grate 'namespace:/tmp=memfs' app.wasm
    python -m lind_async run --grate 'namespace:/data=strace+readonly:/data' app.wasm

    python -m lind_async run --grate 'namespace:/tmp=imfs.c' app.wasm

``namespace:PREFIX=GRATE[+GRATE…]``: a call whose path argument lies under ``PREFIX`` (resolved
against the caller's working directory), and every later call on a descriptor such a call opened,
is sent through the clamped grates (a lane, see ``lane.py``: listed outermost first, and
their forwards continue below the namespace); every other call goes onward unchanged. The lane's
members are told the prefix (``memfs`` then presents it as a directory). A descriptor the lane
returned stays clamped until it is closed, unless the cage's fd table says the number has become
RawPOSIX's (``dup2`` over it, reused after ``exec``); a Python member's descriptors are numbers
of that table (``rawposix/fd.py``: ``GrateFile``). Clamps nest:
a clamped grate may itself be a namespace. A clamped GRATE is a ``--grate`` spec (Python) or a C
grate program, ``FILE.wasm[,ARG…]`` or ``FILE.c[,ARG…]`` (built with ``cc --grate``), which the
namespace starts itself (``wasm_member.py``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.flags import AT_FDCWD
from lind_async.grates.lane import Lane, Member, load_member
from lind_async.rawposix.confine import guest_join
from lind_async.rawposix.fd import GrateFile
from lind_async.threei.python_grates import Call, Grate

if TYPE_CHECKING:
    from lind_async.runtime.world import World

# number -> (index of the path argument, index of its dirfd or None)
PATH_CALLS: dict[int, tuple[int, int | None]] = {
    nr.SYS_open: (0, None),
    nr.SYS_creat: (0, None),
    nr.SYS_openat: (1, 0),
    nr.SYS_stat: (0, None),
    nr.SYS_lstat: (0, None),
    nr.SYS_newfstatat: (1, 0),
    nr.SYS_statx: (1, 0),
    nr.SYS_access: (0, None),
    nr.SYS_faccessat: (1, 0),
    nr.SYS_faccessat2: (1, 0),
    nr.SYS_mkdir: (0, None),
    nr.SYS_mkdirat: (1, 0),
    nr.SYS_rmdir: (0, None),
    nr.SYS_unlink: (0, None),
    nr.SYS_unlinkat: (1, 0),
    nr.SYS_rename: (0, None),
    nr.SYS_truncate: (0, None),
    nr.SYS_chmod: (0, None),
    nr.SYS_readlink: (0, None),
}
OPENING = frozenset({nr.SYS_open, nr.SYS_creat, nr.SYS_openat})
FD_CALLS = frozenset(
    {
        nr.SYS_read, nr.SYS_write, nr.SYS_readv, nr.SYS_writev, nr.SYS_pread64, nr.SYS_pwrite64,
        nr.SYS_lseek, nr.SYS_fstat, nr.SYS_getdents64, nr.SYS_fsync, nr.SYS_fdatasync,
        nr.SYS_ftruncate, nr.SYS_ioctl, nr.SYS_fchmod, nr.SYS_flock,
    }
)  # fmt: skip
DUPLICATING = frozenset({nr.SYS_dup, nr.SYS_dup2, nr.SYS_dup3, nr.SYS_fcntl})
F_DUPFD, F_DUPFD_CLOEXEC = 0, 1030


class Namespace(Grate):
    name = "namespace"

    def __init__(self, prefix: str | bytes, clamped: Iterable[Member]) -> None:
        raw = prefix.encode() if isinstance(prefix, str) else prefix
        if not raw.startswith(b"/"):
            raise ValueError("namespace: the prefix must be an absolute path")
        self.prefix = posixpath.normpath(raw)
        self.lane = Lane(list(clamped))
        self.lane.clamp_at(self.prefix)
        self.clamped_fds: set[tuple[int, int]] = set()  # (cage, fd) opened through the lane

    @classmethod
    def from_arg(cls, arg: str | None) -> Grate:
        if not arg or "=" not in arg:
            raise ValueError("namespace: expected PREFIX=GRATE[+GRATE…]")
        prefix, _, inner = arg.partition("=")
        return cls(prefix, [load_member(spec) for spec in inner.split("+") if spec])

    def numbers(self) -> Iterable[int]:
        return set(PATH_CALLS) | FD_CALLS | DUPLICATING | {nr.SYS_close, nr.SYS_fork}

    def attach(self, mv: World, cage_id: int) -> int:
        grate_id = super().attach(mv, cage_id)
        self.lane.build(mv, grate_id)
        return grate_id

    # -- deciding ----------
    def _under_prefix(self, call: Call, path_index: int, dirfd_index: int | None) -> bool:
        path = call.path(path_index)
        if not path.startswith(b"/"):
            if dirfd_index is not None and call.fd(dirfd_index) != AT_FDCWD:
                return self._clamped_fd(call, call.fd(dirfd_index))
            cage = call.mv.cages.get(call.caller)
            path = guest_join(cage.cwd if cage is not None else b"/", path)
        full = posixpath.normpath(path)
        return full == self.prefix or full.startswith(self.prefix.rstrip(b"/") + b"/")

    def _clamped(self, call: Call) -> bool:
        number = call.number
        if number in PATH_CALLS:
            return self._under_prefix(call, *PATH_CALLS[number])
        if number == nr.SYS_rename:
            return self._under_prefix(call, 0, None)
        return self._clamped_fd(call, call.fd(0))

    def _clamped_fd(self, call: Call, fd: int) -> bool:
        """Did the lane hand out the caller's ``fd``? The cage's fd table has the last word: a
        number it holds as anything but a grate's descriptor is RawPOSIX's now (reused after an
        ``exec`` closed ours, or ``dup2``-ed over), whatever the lane once returned."""
        key = (call.caller, fd)
        if key not in self.clamped_fds:
            return False
        fds = call.origin.fds
        if fd in fds and not isinstance(fds.file(fd), GrateFile):
            self.clamped_fds.discard(key)
            return False
        return True

    def syscall(self, call: Call) -> int | Awaitable[int]:
        number = call.number
        if number == nr.SYS_fork:
            return self._fork(call)
        if not self._clamped(call):
            return call.forward()
        return self._through_lane(call)

    async def _through_lane(self, call: Call) -> int:
        result = await self.lane.send(call)
        number, key = call.number, (call.caller, call.fd(0))
        if number in OPENING and result >= 0:
            self.clamped_fds.add((call.caller, result))
        elif number == nr.SYS_close and result == 0:
            self.clamped_fds.discard(key)
        elif number in DUPLICATING and result >= 0:
            duplicates = number != nr.SYS_fcntl or call.int(1) in (F_DUPFD, F_DUPFD_CLOEXEC)
            if duplicates:
                self.clamped_fds.add((call.caller, result))
        return result

    async def _fork(self, call: Call) -> int:
        child = await call.forward()
        if child > 0:  # the child inherits the parent's descriptors, clamped ones included
            inherited = {(child, fd) for cage, fd in self.clamped_fds if cage == call.caller}
            self.clamped_fds |= inherited
        return child

    def on_cage_exit(self, cage_id: int, status: int) -> None:
        self.clamped_fds = {key for key in self.clamped_fds if key[0] != cage_id}
