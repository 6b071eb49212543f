"""execve: replace the calling cage's program, keeping its identity.

The handler validates everything that can fail *before* the old program is touched — the file
(inside the root), its format (a lind cage module, or a ``#!`` script whose interpreter is one),
the argument and environment vectors — so a failing ``execve`` returns
an errno to a program that is still intact. Then it raises :class:`ExecImage`; the fiber unwinds
and the cage's task (``Cage._run_main``) swaps in a fresh instance: same cage id, fd table minus
close-on-exec descriptors, 3i table kept, caught signals reset to default.

A precompiled ``.cwasm`` is refused (``ENOEXEC``): it is native code that wasmtime loads without
validating it, and the root is the cages' to write, so loading one would let a cage run any
machine code in the microvisor's process. Only the embedder (``run``, ``create_cage_exec``) may
start a ``.cwasm`` it trusts.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

import wasmtime

from lind_async.abi.errno import E2BIG, EACCES, ELOOP, ENOENT, ENOEXEC, GuestError
from lind_async.rawposix.args import pointer
from lind_async.rawposix.confine import guest_join
from lind_async.runtime.process_image import ARG_MAX

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage

MAX_PROGRAM_BYTES = 256 << 20
MAX_VECTOR = 65536
_WASM_MAGIC = b"\0asm"
_MAX_INTERPRETERS = 4


class ExecImage(BaseException):
    """Raised by a successful ``execve`` to replace the running program."""

    def __init__(self, module: wasmtime.Module, argv: list[bytes], env: list[bytes]) -> None:
        super().__init__("execve")
        self.module = module
        self.argv = argv
        self.env = env


def _vector(cage: Cage, addr: int) -> list[bytes]:
    """A NULL-terminated ``char *[]`` from guest memory."""
    items: list[bytes] = []
    if not addr:
        return items
    total = 0
    while True:
        if len(items) >= MAX_VECTOR:
            raise GuestError(E2BIG)
        ptr = cage.mem.read_u32(addr + 4 * len(items))
        if ptr == 0:
            return items
        item = cage.mem.read_cstring(ptr, ARG_MAX)
        total += len(item) + 1
        if total > ARG_MAX:
            raise GuestError(E2BIG)
        items.append(item)


def _read_program(cage: Cage, path: bytes) -> bytes:
    root = cage.microvisor.root
    # Non-blocking: opening a FIFO must not wait for a writer (it would block the whole loop);
    # then anything but a regular file is EACCES, as Linux's execve says.
    fd = root.open(path, os.O_RDONLY | os.O_NONBLOCK)
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


def load_image(cage: Cage, path: bytes, argv: list[bytes], env: list[bytes]) -> ExecImage:
    """Resolve ``path`` (following ``#!`` interpreters) to a loadable image, or raise an errno."""
    for _ in range(_MAX_INTERPRETERS + 1):
        data = _read_program(cage, guest_join(cage.cwd, path))
        if data.startswith(b"#!"):
            interpreter, extra = _shebang(data)
            argv = [interpreter, *extra, path, *argv[1:]]
            path = interpreter
            continue
        if not data.startswith(_WASM_MAGIC):  # (a precompiled .cwasm too: see the docstring)
            raise GuestError(ENOEXEC)
        from lind_async.runtime.engine import ModuleError

        try:
            module = cage.microvisor.load(data)
        except ModuleError:
            raise GuestError(ENOEXEC) from None
        return ExecImage(module, argv, env)
    raise GuestError(ELOOP)


def sys_execve(cage: Cage, path: int, argv: int, envp: int, *_: int) -> int:
    program = cage.mem.read_cstring(pointer(path))
    args = _vector(cage, pointer(argv))
    env = _vector(cage, pointer(envp))
    if not program:
        raise GuestError(ENOENT)
    raise load_image(cage, program, args, env)
