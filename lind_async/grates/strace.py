"""``strace``: one line per system call on stderr (or a file: ``--grate strace:FILE``).

    [cage 3] openat(AT_FDCWD, "/x", O_RDONLY) = 3
    [cage 3] read(3, "abc", 100) = 3
    [cage 3] openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)

Names come from RawPOSIX's table; arguments are decoded by kind (:data:`SIGNATURES`): paths,
``O_*``/``AT_*`` flags, modes, buffers (32 bytes, then ``...``), fds, signals; any other call
shows its arguments up to the last non-zero one. A line is written when the call returns (a
call that never returns, ``exit_group``, is shown first with ``= ?``).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Callable
from typing import TextIO

from lind_async.abi import flags as F
from lind_async.abi.errno import GuestError
from lind_async.grate import Call, Grate

BUFFER_SHOWN = 32

# Argument kinds, by call name. "mode?" is shown only when the flags before it create a file.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "read": ("fd", "obuf", "int"),
    "write": ("fd", "ibuf", "int"),
    "pread64": ("fd", "obuf", "int", "int"),
    "pwrite64": ("fd", "ibuf", "int", "int"),
    "readv": ("fd", "ptr", "int"),
    "writev": ("fd", "ptr", "int"),
    "open": ("path", "oflags", "mode?"),
    "openat": ("atfd", "path", "oflags", "mode?"),
    "creat": ("path", "mode"),
    "close": ("fd",),
    "dup": ("fd",),
    "dup2": ("fd", "fd"),
    "dup3": ("fd", "fd", "oflags"),
    "lseek": ("fd", "int", "whence"),
    "stat": ("path", "ptr"),
    "lstat": ("path", "ptr"),
    "fstat": ("fd", "ptr"),
    "newfstatat": ("atfd", "path", "ptr", "atflags"),
    "access": ("path", "amode"),
    "faccessat": ("atfd", "path", "amode"),
    "faccessat2": ("atfd", "path", "amode", "atflags"),
    "mkdir": ("path", "mode"),
    "mkdirat": ("atfd", "path", "mode"),
    "rmdir": ("path",),
    "unlink": ("path",),
    "unlinkat": ("atfd", "path", "atflags"),
    "rename": ("path", "path"),
    "renameat": ("atfd", "path", "atfd", "path"),
    "renameat2": ("atfd", "path", "atfd", "path", "hex"),
    "link": ("path", "path"),
    "symlink": ("path", "path"),
    "readlink": ("path", "ptr", "int"),
    "chdir": ("path",),
    "fchdir": ("fd",),
    "getcwd": ("ptr", "int"),
    "truncate": ("path", "int"),
    "ftruncate": ("fd", "int"),
    "chmod": ("path", "mode"),
    "fchmod": ("fd", "mode"),
    "getdents64": ("fd", "ptr", "int"),
    "ioctl": ("fd", "hex", "ptr"),
    "fcntl": ("fd", "int", "int"),
    "pipe": ("ptr",),
    "pipe2": ("ptr", "oflags"),
    "execve": ("path", "ptr", "ptr"),
    "exit": ("int",),
    "exit_group": ("int",),
    "wait4": ("int", "ptr", "int", "ptr"),
    "kill": ("int", "signal"),
    "tkill": ("int", "signal"),
    "tgkill": ("int", "int", "signal"),
    "brk": ("ptr",),
    "mmap": ("ptr", "int", "int", "hex", "fd", "int"),
    "munmap": ("ptr", "int"),
    "mprotect": ("ptr", "int", "int"),
    "madvise": ("ptr", "int", "int"),
    "nanosleep": ("ptr", "ptr"),
    "clock_gettime": ("int", "ptr"),
    "clock_nanosleep": ("int", "int", "ptr", "ptr"),
    "rt_sigaction": ("signal", "ptr", "ptr", "int"),
    "rt_sigprocmask": ("int", "ptr", "ptr", "int"),
    "futex": ("ptr", "int", "int", "ptr", "ptr", "int"),
    "clone": ("hex", "ptr", "ptr", "ptr", "ptr", "hex"),
    "set_tid_address": ("ptr",),
    "uname": ("ptr",),
    "getrandom": ("ptr", "int", "int"),
    "alarm": ("int",),
}
for _name in ("getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "fork",
              "sched_yield", "pause", "getpgrp", "setsid"):
    SIGNATURES[_name] = ()

_OPEN_FLAGS = [
    (F.O_TMPFILE, "O_TMPFILE"),  # before O_DIRECTORY, whose bit it includes
    (F.O_SYNC, "O_SYNC"),  # before O_DSYNC, likewise
    (F.O_CREAT, "O_CREAT"),
    (F.O_EXCL, "O_EXCL"),
    (F.O_NOCTTY, "O_NOCTTY"),
    (F.O_TRUNC, "O_TRUNC"),
    (F.O_APPEND, "O_APPEND"),
    (F.O_NONBLOCK, "O_NONBLOCK"),
    (F.O_DSYNC, "O_DSYNC"),
    (F.O_ASYNC, "O_ASYNC"),
    (F.O_DIRECT, "O_DIRECT"),
    (F.O_LARGEFILE, "O_LARGEFILE"),
    (F.O_DIRECTORY, "O_DIRECTORY"),
    (F.O_NOFOLLOW, "O_NOFOLLOW"),
    (F.O_NOATIME, "O_NOATIME"),
    (F.O_CLOEXEC, "O_CLOEXEC"),
    (F.O_PATH, "O_PATH"),
]
_AT_FLAGS = [
    (F.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"),
    (F.AT_REMOVEDIR, "AT_REMOVEDIR"),
    (F.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"),
    (F.AT_EMPTY_PATH, "AT_EMPTY_PATH"),
]
_ACCESS = ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")
_WHENCE = ("SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE")
_HEX_RESULTS = frozenset({"brk", "mmap"})


def quote(data: bytes, truncated: bool = False) -> str:
    """A C string literal as strace writes it (``"..."...`` when cut short)."""
    out = []
    for i, byte in enumerate(data):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            next_is_digit = i + 1 < len(data) and 0x30 <= data[i + 1] <= 0x39
            out.append(f"\\{byte:03o}" if next_is_digit else f"\\{byte:o}")
    return '"' + "".join(out) + '"' + ("..." if truncated else "")


def flag_names(value: int, table: list[tuple[int, str]]) -> list[str]:
    names = []
    for bit, name in table:
        if bit and value & bit == bit:
            names.append(name)
            value &= ~bit
    if value:
        names.append(hex(value))
    return names


def open_flags(value: int) -> str:
    access = _ACCESS[value & F.O_ACCMODE]
    return "|".join([access, *flag_names(value & ~F.O_ACCMODE, _OPEN_FLAGS)])


def at_flags(value: int) -> str:
    return "|".join(flag_names(value, _AT_FLAGS)) or "0"


def access_mode(value: int) -> str:
    names = [n for bit, n in ((4, "R_OK"), (2, "W_OK"), (1, "X_OK")) if value & bit]
    return "|".join(names) or "F_OK"


def signal_name(signo: int) -> str:
    try:
        return signal.Signals(signo).name
    except ValueError:
        return str(signo)


def pointer(value: int) -> str:
    return "NULL" if value == 0 else hex(value)


def result_text(name: str, result: int) -> str:
    if -4096 < result < 0:
        code = -result
        label = errno.errorcode.get(code, f"E{code}")
        return f"-1 {label} ({os.strerror(code)})"
    if name in _HEX_RESULTS:
        return hex(result & 0xFFFFFFFF)
    return str(result)


class Strace(Grate):
    """Trace every call of the cages it is attached to (and their children)."""

    name = "strace"

    def __init__(self, out: TextIO | str | None = None) -> None:
        if isinstance(out, str):
            out = open(out, "a", encoding="utf-8")  # noqa: SIM115 (lives as long as the grate)
        self._out = out

    async def syscall(self, call: Call) -> int:
        if call.name in ("exit", "exit_group"):
            self.emit(call, self.describe(call, None), "?")
            return await call.forward()
        kinds = SIGNATURES.get(call.name)
        before = self.describe(call, None) if kinds is None or "obuf" not in kinds else ""
        result = await call.forward()
        shown = before or self.describe(call, result)
        self.emit(call, shown, result_text(call.name, result))
        return result

    def emit(self, call: Call, shown: str, result: str) -> None:
        out = self._out or sys.stderr
        out.write(f"[cage {call.caller}] {shown} = {result}\n")
        out.flush()

    def describe(self, call: Call, result: int | None) -> str:
        """``name(arg, …)`` with the arguments decoded (outputs once ``result`` is known)."""
        kinds = SIGNATURES.get(call.name)
        if kinds is None:
            last = max((i for i, v in enumerate(call.args) if v), default=-1)
            text = [_number(call.long(i)) for i in range(last + 1)]
        else:
            text = []
            for i, kind in enumerate(kinds):
                shown = self._argument(call, i, kind, result)
                if shown is not None:
                    text.append(shown)
        return f"{call.name}({', '.join(text)})"

    def _argument(self, call: Call, i: int, kind: str, result: int | None) -> str | None:
        decode = _DECODERS.get(kind)
        if decode is not None:
            return decode(call, i)
        try:
            if kind == "path":
                return quote(call.path(i))
            if kind == "ibuf":
                return _buffer(call, i, call.u64(i + 1))
            if kind == "obuf":
                if result is None or result < 0:
                    return pointer(call.ptr(i))
                return _buffer(call, i, result)
        except GuestError:
            return pointer(call.ptr(i))
        if kind == "mode?":
            if not call.int(i - 1) & (F.O_CREAT | (F.O_TMPFILE & ~F.O_DIRECTORY)):
                return None
            return _mode(call, i)
        return _number(call.long(i))


def _buffer(call: Call, i: int, length: int) -> str:
    shown = min(length, BUFFER_SHOWN)
    return quote(call.read(i, shown), truncated=length > shown)


def _number(value: int) -> str:
    return str(value) if -0x10000 < value < 0x10000 else hex(value & 0xFFFFFFFFFFFFFFFF)


def _mode(call: Call, i: int) -> str:
    return "0" + format(call.int(i) & 0o7777, "o")


def _atfd(call: Call, i: int) -> str:
    fd = call.fd(i)
    return "AT_FDCWD" if fd == F.AT_FDCWD else str(fd)


def _whence(call: Call, i: int) -> str:
    value = call.int(i)
    return _WHENCE[value] if 0 <= value < len(_WHENCE) else str(value)


_DECODERS: dict[str, Callable[[Call, int], str]] = {
    "fd": lambda call, i: str(call.fd(i)),
    "atfd": _atfd,
    "int": lambda call, i: str(call.long(i)),
    "hex": lambda call, i: hex(call.u64(i)),
    "ptr": lambda call, i: pointer(call.ptr(i)),
    "oflags": lambda call, i: open_flags(call.int(i)),
    "atflags": lambda call, i: at_flags(call.int(i)),
    "amode": lambda call, i: access_mode(call.int(i)),
    "mode": _mode,
    "whence": _whence,
    "signal": lambda call, i: signal_name(call.int(i)),
}
