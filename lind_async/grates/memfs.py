"""``memfs`` — an in-memory filesystem as a Python grate (the Python sibling of ``imfs.c``).

    python -m lind_async run --grate 'namespace:/tmp=memfs' app.wasm

Handles open/openat/creat, read/write/readv/writev/pread64/pwrite64, lseek, fstat/stat/lstat/
newfstatat, access/faccessat, mkdir/mkdirat, rmdir, unlink/unlinkat and getdents64 over a tree
kept in the grate. Everything else is forwarded, and so is a call on a descriptor that is not
memfs's.

Theory of operation
-------------------
*Descriptors* are numbers of the calling cage's own fd table: opening installs a
:class:`~lind_async.rawposix.fd.GrateFile` naming this grate, whose handle is the memfs
:class:`OpenFile` (node, offset, directory listing), at the lowest free number — shared with
RawPOSIX's descriptors and counted against the cage's fd limit. So ``select``/``poll`` see a memfs
fd as a regular file (always ready), and ``close``, ``dup``/``dup2``/``fcntl(F_DUPFD)``,
``F_SETFD``/``F_GETFL``, ``fork`` (the child shares the description and its offset, as Linux),
``exec`` (close-on-exec) and exit are RawPOSIX's own, unchanged: memfs does not handle them (it
forwards ``close``; the description is dropped with its last descriptor). A handled call on a
number looks the number up in the caller's table; only a ``GrateFile`` of this grate is memfs's,
anything else goes on below (so memfs also works unclamped: stdio still reaches RawPOSIX). Status
flags (``O_APPEND``, the access mode) are the description's, so ``F_SETFL`` is seen.

*Clamped under a prefix* (``namespace:/tmp=memfs``) memfs is told the prefix
(:meth:`MemFS.clamp_at`) and presents it as an existing, empty directory (mode ``1777``, as a
tmpfs mount), with its ancestors: ``stat("/tmp")``, ``open("/tmp/x", O_CREAT)`` and ``opendir``
of ``/tmp`` work at once, and removing the mount point is ``EBUSY``. Paths are the guest's
absolute paths; memfs never sees one outside the prefix.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import stat as stat_mod
import time
from dataclasses import dataclass, field

from lind_async.abi import flags as F
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import (
    EBADF,
    EBUSY,
    EEXIST,
    EINVAL,
    EISDIR,
    ENOENT,
    ENOTDIR,
    ENOTEMPTY,
)
from lind_async.memory import pointers
from lind_async.rawposix import structs
from lind_async.rawposix.confine import guest_join
from lind_async.rawposix.fd import GrateFile, grate_handle
from lind_async.rawposix.files import DirEntry
from lind_async.rawposix.io import IOV_MAX, MAX_RW
from lind_async.threei.python_grates import Call, Forward, Grate, GrateError, handles

# open() flags that act at the open only, not kept as the description's status flags (as RawPOSIX)
_OPEN_ONLY = F.O_CREAT | F.O_EXCL | F.O_TRUNC | F.O_CLOEXEC
_inodes = itertools.count(2)
_DEVICE = 0x4D46  # "MF"


@dataclass
class Node:
    directory: bool
    mode: int
    data: bytearray = field(default_factory=bytearray)
    inode: int = field(default_factory=lambda: next(_inodes))
    mtime_ns: int = field(default_factory=time.time_ns)
    children: dict[bytes, Node] = field(default_factory=dict)


@dataclass
class OpenFile:
    """memfs's side of one open file description (the ``GrateFile``'s handle)."""

    node: Node
    path: bytes
    description: GrateFile | None = None  # its status flags are the description's
    position: int = 0
    listing: list[DirEntry] | None = None

    @property
    def flags(self) -> int:
        return self.description.status_flags if self.description is not None else 0


class MemFS(Grate):
    name = "memfs"

    def __init__(self, arg: str | None = None) -> None:
        self.root = Node(True, 0o755)
        self.mount_points: set[bytes] = set()

    def clamp_at(self, prefix: bytes) -> None:
        """Calls reach this memfs only for paths under ``prefix``: make it (and its ancestors)
        an existing directory."""
        node, path = self.root, b""
        for part in posixpath.normpath(prefix).strip(b"/").split(b"/"):
            if not part:
                continue
            path += b"/" + part
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = Node(True, 0o755)
            node = child
        if node is not self.root:
            node.mode = stat_mod.S_ISVTX | 0o777  # a tmpfs mount point's mode
            self.mount_points.add(path)

    # -- paths ----------
    def _abs(self, call: Call, i: int, dirfd_index: int | None = None) -> bytes:
        path = call.path(i)
        if not path:
            raise GrateError(ENOENT)
        if not path.startswith(b"/"):
            dirfd = call.fd(dirfd_index) if dirfd_index is not None else F.AT_FDCWD
            if dirfd != F.AT_FDCWD:
                base = self._mine(call, dirfd)
                if base is None:
                    raise GrateError(EBADF)  # (a namespace sends only its own dirfds here)
                path = guest_join(base.path, path)
            else:
                path = guest_join(call.origin.cwd, path)
        return posixpath.normpath(path)

    def _walk(self, path: bytes) -> Node:
        node = self.root
        for part in path.strip(b"/").split(b"/"):
            if not part:
                continue
            if not node.directory:
                raise GrateError(ENOTDIR)
            child = node.children.get(part)
            if child is None:
                raise GrateError(ENOENT)
            node = child
        return node

    def _parent(self, path: bytes) -> tuple[Node, bytes]:
        parent_path, name = posixpath.split(path)
        parent = self._walk(parent_path or b"/")
        if not parent.directory:
            raise GrateError(ENOTDIR)
        if not name:
            raise GrateError(EEXIST)
        return parent, name

    def _mine(self, call: Call, fd: int) -> OpenFile | None:
        """memfs's file behind the caller's descriptor ``fd``; ``None`` if it is another kind
        (``EBADF`` if it is not open)."""
        handle = grate_handle(call.origin, fd, self.id)
        return handle if isinstance(handle, OpenFile) else None

    # -- opening ----------
    def _open(self, call: Call, path: bytes, flags: int, mode: int) -> int:
        try:
            node = self._walk(path)
            if flags & F.O_CREAT and flags & F.O_EXCL:
                raise GrateError(EEXIST)
        except GrateError as err:
            if err.errno != ENOENT or not flags & F.O_CREAT:
                raise
            parent, name = self._parent(path)
            node = parent.children[name] = Node(False, mode & 0o7777)
        if node.directory and flags & F.O_ACCMODE != F.O_RDONLY:
            raise GrateError(EISDIR)
        if flags & F.O_DIRECTORY and not node.directory:
            raise GrateError(ENOTDIR)
        if flags & F.O_TRUNC and not node.directory:
            node.data.clear()
        file = OpenFile(node, path)
        file.description = GrateFile(self.id, file, flags & ~_OPEN_ONLY)
        return call.origin.fds.install(file.description, cloexec=bool(flags & F.O_CLOEXEC))

    @handles(nr.SYS_open)
    def open_(self, call: Call) -> int:
        return self._open(call, self._abs(call, 0), call.int(1), call.int(2))

    @handles(nr.SYS_creat)
    def creat(self, call: Call) -> int:
        flags = F.O_CREAT | F.O_WRONLY | F.O_TRUNC
        return self._open(call, self._abs(call, 0), flags, call.int(1))

    @handles(nr.SYS_openat)
    def openat(self, call: Call) -> int:
        return self._open(call, self._abs(call, 1, 0), call.int(2), call.int(3))

    # -- data ----------
    def _read(self, file: OpenFile, n: int, at: int) -> bytes:
        if file.node.directory:
            raise GrateError(EISDIR)
        if file.flags & F.O_ACCMODE == F.O_WRONLY:
            raise GrateError(EBADF)
        return bytes(file.node.data[at : at + n])

    def _write(self, file: OpenFile, data: bytes, at: int) -> int:
        if file.flags & F.O_ACCMODE == F.O_RDONLY:
            raise GrateError(EBADF)
        buf = file.node.data
        if at > len(buf):
            buf.extend(bytes(at - len(buf)))
        buf[at : at + len(data)] = data
        file.node.mtime_ns = time.time_ns()
        return len(data)

    def sys_read(self, call: Call) -> int | Forward:
        file = self._mine(call, call.fd(0))
        if file is None:
            return call.forward()
        data = self._read(file, call.int(2) & 0xFFFFFFFF, file.position)
        call.write(1, data)
        file.position += len(data)
        return len(data)

    def sys_pread64(self, call: Call) -> int | Forward:
        file = self._mine(call, call.fd(0))
        if file is None:
            return call.forward()
        data = self._read(file, call.int(2) & 0xFFFFFFFF, call.long(3))
        call.write(1, data)
        return len(data)

    def sys_write(self, call: Call) -> int | Forward:
        file = self._mine(call, call.fd(0))
        if file is None:
            return call.forward()
        data = call.read(1, call.int(2) & 0xFFFFFFFF)
        if file.flags & F.O_APPEND:
            file.position = len(file.node.data)
        n = self._write(file, data, file.position)
        file.position += n
        return n

    def _iovecs(self, call: Call) -> list[memoryview]:
        """The buffers of the iovec array at argument 1 (count at 2), in the array's memory,
        checked as RawPOSIX's readv/writev check them (``EINVAL`` for a count outside
        ``0..IOV_MAX`` or lengths adding up past ``MAX_RW``, ``EFAULT`` for memory outside)."""
        return pointers.iovecs(call.memory(1), call.ptr(1), call.int(2), limit=IOV_MAX,
                               too_many=EINVAL, max_total=MAX_RW)

    def sys_readv(self, call: Call) -> int | Forward:
        file = self._mine(call, call.fd(0))
        if file is None:
            return call.forward()
        views = self._iovecs(call)
        data = self._read(file, sum(len(view) for view in views), file.position)
        done = 0
        for view in views:
            n = min(len(view), len(data) - done)
            view[:n] = data[done : done + n]
            done += n
            if done >= len(data):
                break
        file.position += len(data)
        return len(data)

    def sys_writev(self, call: Call) -> int | Forward:
        file = self._mine(call, call.fd(0))
        if file is None:
            return call.forward()
        data = b"".join(self._iovecs(call))
        if file.flags & F.O_APPEND:
            file.position = len(file.node.data)
        n = self._write(file, data, file.position)
        file.position += n
        return n

    def sys_pwrite64(self, call: Call) -> int | Forward:
        file = self._mine(call, call.fd(0))
        if file is None:
            return call.forward()
        return self._write(file, call.read(1, call.int(2) & 0xFFFFFFFF), call.long(3))

    def sys_lseek(self, call: Call) -> int | Forward:
        file = self._mine(call, call.fd(0))
        if file is None:
            return call.forward()
        offset, whence = call.long(1), call.int(2)
        base = {F.SEEK_SET: 0, F.SEEK_CUR: file.position, F.SEEK_END: len(file.node.data)}
        if whence not in base or base[whence] + offset < 0:
            raise GrateError(EINVAL)
        file.position = base[whence] + offset
        if file.node.directory and file.position == 0:
            file.listing = None
        return file.position

    # -- metadata ----------
    def _stat(self, node: Node) -> os.stat_result:
        kind = stat_mod.S_IFDIR if node.directory else stat_mod.S_IFREG
        size = 4096 if node.directory else len(node.data)
        t = node.mtime_ns
        return os.stat_result(
            (kind | node.mode, node.inode, _DEVICE, 1, os.getuid(), os.getgid(), size,
             t // 10**9, t // 10**9, t // 10**9),
            {"st_blksize": 4096, "st_blocks": (size + 511) // 512,
             "st_atime_ns": t, "st_mtime_ns": t, "st_ctime_ns": t},
        )  # fmt: skip

    def _put_stat(self, call: Call, i: int, node: Node) -> int:
        structs.write_stat(call.memory(i), call.ptr(i), self._stat(node))
        return 0

    def sys_fstat(self, call: Call) -> int | Forward:
        file = self._mine(call, call.fd(0))
        if file is None:
            return call.forward()
        return self._put_stat(call, 1, file.node)

    @handles(nr.SYS_stat, nr.SYS_lstat)
    def stat_(self, call: Call) -> int:
        return self._put_stat(call, 1, self._walk(self._abs(call, 0)))

    def sys_newfstatat(self, call: Call) -> int | Forward:
        if not call.path(1) and call.int(3) & F.AT_EMPTY_PATH:  # fstat(fd), as musl makes it
            file = self._mine(call, call.fd(0))
            if file is None:
                return call.forward()
            return self._put_stat(call, 2, file.node)
        return self._put_stat(call, 2, self._walk(self._abs(call, 1, 0)))

    def sys_access(self, call: Call) -> int:
        self._walk(self._abs(call, 0))
        return 0

    def sys_faccessat(self, call: Call) -> int:
        self._walk(self._abs(call, 1, 0))
        return 0

    # -- directories ----------
    def _mkdir(self, path: bytes, mode: int) -> int:
        parent, name = self._parent(path)
        if name in parent.children:
            raise GrateError(EEXIST)
        parent.children[name] = Node(True, mode & 0o7777)
        return 0

    def sys_mkdir(self, call: Call) -> int:
        return self._mkdir(self._abs(call, 0), call.int(1))

    def sys_mkdirat(self, call: Call) -> int:
        return self._mkdir(self._abs(call, 1, 0), call.int(2))

    def _remove(self, path: bytes, *, directory: bool) -> int:
        if path in self.mount_points:
            raise GrateError(EBUSY)
        parent, name = self._parent(path)
        node = parent.children.get(name)
        if node is None:
            raise GrateError(ENOENT)
        if directory and not node.directory:
            raise GrateError(ENOTDIR)
        if not directory and node.directory:
            raise GrateError(EISDIR)
        if node.children:
            raise GrateError(ENOTEMPTY)
        del parent.children[name]
        return 0

    def sys_rmdir(self, call: Call) -> int:
        return self._remove(self._abs(call, 0), directory=True)

    def sys_unlink(self, call: Call) -> int:
        return self._remove(self._abs(call, 0), directory=False)

    def sys_unlinkat(self, call: Call) -> int:
        return self._remove(self._abs(call, 1, 0), directory=bool(call.int(2) & F.AT_REMOVEDIR))

    def sys_getdents64(self, call: Call) -> int | Forward:
        file = self._mine(call, call.fd(0))
        if file is None:
            return call.forward()
        if not file.node.directory:
            raise GrateError(ENOTDIR)
        if file.listing is None:
            file.listing = [DirEntry(b".", file.node.inode, 4), DirEntry(b"..", 1, 4)] + [
                DirEntry(name, child.inode, 4 if child.directory else 8)
                for name, child in sorted(file.node.children.items())
            ]
        capacity = call.int(2) & 0xFFFFFFFF
        out = bytearray()
        while file.position < len(file.listing):
            record = structs.dirent64(file.listing[file.position], file.position + 1)
            if len(out) + len(record) > capacity:
                if not out:
                    raise GrateError(EINVAL)
                break
            out += record
            file.position += 1
        call.write(1, bytes(out))
        return len(out)
