"""execve: replace the calling cage's program, keeping its identity.

The handler validates everything that can fail *before* the old program is touched — the file
(inside the root), its format (a lind cage module, or a ``#!`` script whose interpreter is one),
the argument and environment vectors — so a failing ``execve`` returns
an errno to a program that is still intact. Then it raises :class:`ExecImage`; the fiber unwinds
and the cage's task (``Cage._run_main``) swaps in a fresh instance: same cage id, fd table minus
close-on-exec descriptors, 3i table kept, caught signals reset to default.

Programs named through the cage's own view are found as Linux finds them: ``/proc/self/exe`` is
the program the cage runs now (its module, whether or not its file is in the root), and
``/proc/self/fd/N``, ``/dev/fd/N`` and ``execveat(fd, "", …, AT_EMPTY_PATH)`` (musl's
``fexecve``) the file open on descriptor N, read through that descriptor's host file (never a path).

A precompiled ``.cwasm`` is refused (``ENOEXEC``): it is native code that wasmtime loads without
validating it, and the root is the cages' to write, so loading one would let a cage run any
machine code in the microvisor's process. Only the embedder (``run``, ``create_cage_exec``) may
start a ``.cwasm`` it trusts.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import E2BIG, EACCES, EINVAL, ELOOP, ENOENT, ENOEXEC, GuestError
from lind_async.abi.executable import module_bytes
from lind_async.abi.guest import ARG_MAX
from lind_async.memory import pointers
from lind_async.rawposix import hostfds, procfs
from lind_async.rawposix.args import i32, pointer
from lind_async.rawposix.confine import guest_join, lexical
from lind_async.rawposix.host_file import HostFile
from lind_async.rawposix.kernel import ExecImage, ModuleUnloadable
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

MAX_PROGRAM_BYTES = 256 << 20
MAX_VECTOR = 65536
_WASM_MAGIC = b"\0asm"
_MAX_INTERPRETERS = 4


def _vector(cage: CageView, addr: int) -> list[bytes]:
    """A NULL-terminated ``char *[]`` from guest memory."""
    items: list[bytes] = []
    if not addr:
        return items
    total = 0
    for ptr in pointers.pointer_vector(cage.mem, addr, MAX_VECTOR):  # (strings: its segment)
        item = cage.mem.read_cstring(ptr, ARG_MAX)
        total += len(item) + 1
        if total > ARG_MAX:
            raise GuestError(E2BIG)
        items.append(item)
    return items


def _open_program(cage: CageView, path: bytes, *, follow: bool = True) -> int:
    """A host fd (read-only, non-blocking) of the file ``path`` names for the cage."""
    name = lexical(path)
    vfd = procfs.fd_of(name)
    if vfd is not None:
        procfs.named_file(cage, vfd)  # (a closed N: ENOENT, as for any missing name)
        return _open_descriptor(cage, vfd)
    nofollow = 0 if follow else os.O_NOFOLLOW
    # Non-blocking: opening a FIFO must not wait for a writer (it would block the whole loop).
    return cage.world.root.open(path, os.O_RDONLY | os.O_NONBLOCK | nofollow)


def _open_descriptor(cage: CageView, vfd: int) -> int:
    """A new host fd of the file open on the cage's descriptor ``vfd`` (``fexecve``)."""
    file = cage.fds.file(vfd)
    if not isinstance(file, HostFile) or file.kind != stat.S_IFREG:
        raise GuestError(EACCES)
    again = f"/proc/self/fd/{file.host_fd}"
    return hostfds.open_fd(lambda: os.open(again, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))


def _read_program(
    cage: CageView, path: bytes, *, follow: bool = True, fd: int | None = None,
) -> bytes:
    if fd is None:
        fd = _open_program(cage, path, follow=follow)
    # Anything but a regular file is EACCES, as Linux's execve says.
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or not os.access(f"/proc/self/fd/{fd}", os.X_OK):
            raise GuestError(EACCES)
        data = bytearray()
        while len(data) <= MAX_PROGRAM_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return bytes(data)
            data += chunk
        raise GuestError(ENOEXEC)
    finally:
        os.close(fd)


def _shebang(data: bytes) -> tuple[bytes, list[bytes]]:
    line = data[2:].split(b"\n", 1)[0].strip()
    if not line:
        raise GuestError(ENOEXEC)
    interpreter, _, rest = line.partition(b" ")
    rest = rest.strip()
    return interpreter, [rest] if rest else []


def load_image(
    cage: CageView, path: bytes, argv: list[bytes], env: list[bytes], *, follow: bool = True,
    fd: int | None = None,
) -> ExecImage:
    """Resolve ``path`` (following ``#!`` interpreters) to a loadable image, or raise an errno.
    ``fd``: a host fd already open on the program (``execveat`` of a descriptor; consumed)."""
    for _ in range(_MAX_INTERPRETERS + 1):
        full = guest_join(cage.cwd, path)
        if fd is None and lexical(full) == procfs.EXE:
            _check_executable(cage, full)
            return ExecImage(cage.ops.program(), argv, env)  # the program the cage runs now
        # A launcher line before a module (lind-cc's output) is skipped, never followed: the cage
        # gets the module and no host program runs.
        data = module_bytes(_read_program(cage, full, follow=follow, fd=fd))
        fd, follow = None, True
        if data.startswith(b"#!"):
            interpreter, extra = _shebang(data)
            argv = [interpreter, *extra, path, *argv[1:]]
            path = interpreter
            continue
        if not data.startswith(_WASM_MAGIC):  # (a precompiled .cwasm too: see the docstring)
            raise GuestError(ENOEXEC)
        try:
            module = cage.world.load_program(data)
        except ModuleUnloadable:
            raise GuestError(ENOEXEC) from None
        return ExecImage(module, argv, env)
    raise GuestError(ELOOP)


def _check_executable(cage: CageView, path: bytes) -> None:
    """``/proc/self/exe``: its file, when the root holds it, must still be executable."""
    try:
        target = procfs.exe_in_root(cage)
        if target is None:
            return  # the program is not a file of the root: the running module is all there is
        fd = cage.world.root.open(target, os.O_PATH)
    except (GuestError, OSError):
        return
    try:
        if not os.access(f"/proc/self/fd/{fd}", os.X_OK):
            raise GuestError(EACCES)
    finally:
        os.close(fd)


def sys_execve(cage: CageView, path: int, argv: int, envp: int, *_: int) -> int:
    program = cage.mem.read_cstring(pointer(path))
    args = _vector(cage, pointer(argv))
    env = _vector(cage, pointer(envp))
    if not program:
        raise GuestError(ENOENT)
    raise load_image(cage, program, args, env)


AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH = 0x100, 0x1000


def sys_execveat(
    cage: CageView, dirfd: int, path: int, argv: int, envp: int, flags: int, *_: int
) -> int:
    at_flags = i32(flags)
    if at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise GuestError(EINVAL)
    program = cage.mem.read_cstring(pointer(path))
    args = _vector(cage, pointer(argv))
    env = _vector(cage, pointer(envp))
    if not program:
        if not at_flags & AT_EMPTY_PATH:
            raise GuestError(ENOENT)
        fd = _open_descriptor(cage, i32(dirfd))
        raise load_image(cage, b"/proc/self/fd/%d" % i32(dirfd), args, env, fd=fd)
    from lind_async.rawposix.fs import at_path

    target = at_path(cage, dirfd, program)
    raise load_image(cage, target, args, env, follow=not at_flags & AT_SYMLINK_NOFOLLOW)


ROWS: list[Row] = [
    (nr.SYS_execve, sys_execve, Support.FULL, "cage programs and #! scripts inside the root"),
    (nr.SYS_execveat, sys_execveat, Support.FULL, "AT_EMPTY_PATH (fexecve), AT_SYMLINK_NOFOLLOW"),
]
