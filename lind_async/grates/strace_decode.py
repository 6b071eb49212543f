"""How the ``strace`` grate shows a call's arguments: one *kind* per argument.

Each call has a signature (:data:`SIGNATURES`). Input kinds are decoded when the call starts (a
path, a buffer being written, flags); output kinds (a buffer read into, a ``struct stat``, a wait
status) once it has returned, as a pointer if it failed. A call's :class:`Plan` is the text known
at entry (``read(3, ``) and the arguments left for its exit, which is what the tracer needs to
print ``<unfinished ...>`` / ``<... read resumed>`` lines. Values are written in strace's notation
(:mod:`strace_notation`).

Calls without a signature show their arguments up to the last non-zero one, in hex (strace's
``printargs``); numbers nothing knows (``syscall(9999)``) show all six: ``syscall_0x270f(…)``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from lind_async.abi import flags as F
from lind_async.abi import layouts
from lind_async.abi.errno import GuestError
from lind_async.grates.strace_notation import (
    CLOCKS,
    FCNTL_COMMANDS,
    IOCTLS,
    MAP_FLAGS,
    MAP_TYPES,
    OPEN_FLAGS,
    PROT_FLAGS,
    SIGPROCMASK_HOWS,
    WAIT_OPTIONS,
    WHENCES,
    access_mode,
    at_flags,
    flag_names,
    hex_or_zero,
    open_flags,
    pointer,
    quote,
    signal_name,
    stat_text,
    termios_text,
    wait_status,
)
from lind_async.memory import pointers
from lind_async.rawposix import table as rawposix_table
from lind_async.rawposix.io import IOV_MAX
from lind_async.threei.python_grates import Call

BUFFER_SHOWN = 32  # strace's default -s 32: bytes of a buffer, strings of an argv
ARRAY_SHOWN = 32  # elements of an argv before "..."
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")

# Argument kinds, by call name. "mode?" is shown only when the flags before it create a file;
# "ioctl_arg" and "fcntl_arg" depend on the request. Kinds in OUTPUTS are decoded at exit.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "read": ("fd", "obuf", "uint"),
    "write": ("fd", "ibuf", "uint"),
    "pread64": ("fd", "obuf", "uint", "int"),
    "pwrite64": ("fd", "ibuf", "uint", "int"),
    "readv": ("fd", "oiov", "int"),
    "writev": ("fd", "iiov", "int"),
    "open": ("path", "oflags", "mode?"),
    "openat": ("atfd", "path", "oflags", "mode?"),
    "creat": ("path", "mode"),
    "close": ("fd",),
    "dup": ("fd",),
    "dup2": ("fd", "fd"),
    "dup3": ("fd", "fd", "fdflags"),
    "lseek": ("fd", "int", "whence"),
    "stat": ("path", "stat"),
    "lstat": ("path", "stat"),
    "fstat": ("fd", "stat"),
    "newfstatat": ("atfd", "path", "stat", "atflags"),
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
    "readlink": ("path", "obuf", "uint"),
    "chdir": ("path",),
    "fchdir": ("fd",),
    "getcwd": ("ostr", "uint"),
    "truncate": ("path", "int"),
    "ftruncate": ("fd", "int"),
    "chmod": ("path", "mode"),
    "fchmod": ("fd", "mode"),
    "getdents64": ("fd", "ptr", "uint"),
    "ioctl": ("fd", "ioctl_request", "ioctl_arg"),
    "fcntl": ("fd", "fcntl_cmd", "fcntl_arg"),
    "pipe": ("fdpair",),
    "pipe2": ("fdpair", "fdflags"),
    "execve": ("path", "argv", "envp"),
    "exit": ("int",),
    "exit_group": ("int",),
    "wait4": ("int", "wstatus", "wait_options", "ptr"),
    "kill": ("int", "signal"),
    "tkill": ("int", "signal"),
    "tgkill": ("int", "int", "signal"),
    "brk": ("ptr",),
    "mmap": ("ptr", "uint", "prot", "map_flags", "fd", "hex"),
    "munmap": ("ptr", "uint"),
    "mprotect": ("ptr", "uint", "prot"),
    "madvise": ("ptr", "uint", "int"),
    "nanosleep": ("timespec", "ptr"),
    "clock_gettime": ("clock", "otimespec"),
    "clock_nanosleep": ("clock", "int", "timespec", "ptr"),
    "rt_sigaction": ("signal", "ptr", "ptr", "uint"),
    "rt_sigprocmask": ("sighow", "ptr", "ptr", "uint"),
    "futex": ("ptr", "int", "int", "ptr", "ptr", "int"),
    "clone": ("hex", "ptr", "ptr", "ptr", "ptr", "hex"),
    "set_tid_address": ("ptr",),
    "uname": ("ptr",),
    "getrandom": ("ptr", "uint", "int"),
    "alarm": ("uint",),
}
for _name in ("getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "fork",
              "vfork", "sched_yield", "pause", "getpgrp", "setsid"):
    SIGNATURES[_name] = ()

OUTPUTS = frozenset(
    {"obuf", "ostr", "oiov", "stat", "fdpair", "wstatus", "otimespec", "oint", "termios",
     "winsize"}
)

_IOCTL_ARGS = {
    "TCGETS": "termios", "TIOCGWINSZ": "winsize", "FIONREAD": "oint", "TIOCOUTQ": "oint",
    "TIOCGPGRP": "oint", "TIOCGSID": "oint", "TIOCGPTN": "oint", "FIONBIO": "iint",
    "FIOASYNC": "iint", "TIOCSPGRP": "iint", "TIOCSPTLCK": "iint", "FIOCLEX": "none",
    "FIONCLEX": "none", "TIOCNOTTY": "none", "TCSBRK": "int", "TCXONC": "int", "TCFLSH": "int",
    "TIOCSCTTY": "int",
}
_FCNTL_ARGS = {"F_GETFD": "none", "F_GETFL": "none", "F_GETOWN": "none", "F_GETPIPE_SZ": "none",
               "F_SETFD": "fd_flags", "F_SETFL": "oflags"}

# ------------------------------------------------------------------------------ a call
def call_name(call: Call) -> str:
    """The name strace gives the call: its row's in RawPOSIX's table (every Linux call has one,
    implemented or not), else ``syscall_0x270f``."""
    entry = rawposix_table.load().get(call.number)
    return entry.name if entry is not None else f"syscall_{call.number:#x}"


class Plan:
    """One call's text: ``head`` is what is known when it starts (``read(3, `` or the whole
    ``write(1, "x", 1``), the rest is decoded by :meth:`tail` once it has returned."""

    __slots__ = ("call", "head", "kinds", "name", "split")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.name = call_name(call)
        self.kinds = _kinds(call, self.name)
        self.split = next((i for i, kind in enumerate(self.kinds) if kind in OUTPUTS),
                          len(self.kinds))
        shown = [_shown(call, i, kind, None) for i, kind in enumerate(self.kinds[: self.split])]
        more = ", " if self.split < len(self.kinds) and shown else ""
        self.head = f"{self.name}({', '.join(shown)}{more}"

    def tail(self, result: int | None) -> str:
        """The arguments decoded at exit (``"abc", 100``), after :attr:`head`'s."""
        call = self.call
        later = range(self.split, len(self.kinds))
        return ", ".join(_shown(call, i, self.kinds[i], result) for i in later)


def _kinds(call: Call, name: str) -> list[str]:
    kinds = SIGNATURES.get(name)
    if kinds is None:
        if call.number not in rawposix_table.TABLE:
            return ["hex"] * 6  # strace shows all six of a call it does not know
        last = max((i for i, v in enumerate(call.args) if v), default=-1)
        return ["hex"] * (last + 1)
    out = []
    for i, kind in enumerate(kinds):
        if kind == "mode?":
            if not call.int(i - 1) & (F.O_CREAT | (F.O_TMPFILE & ~F.O_DIRECTORY)):
                continue
            kind = "mode"
        elif kind == "ioctl_arg":
            kind = _IOCTL_ARGS.get(IOCTLS.get(call.u64(1) & 0xFFFFFFFF, ""), "ptr")
        elif kind == "fcntl_arg":
            kind = _FCNTL_ARGS.get(FCNTL_COMMANDS.get(call.int(1), ""), "int")
        if kind != "none":
            out.append(kind)
    return out


def _shown(call: Call, i: int, kind: str, result: int | None) -> str:
    """Argument ``i`` as ``kind`` (``result``: the call's, for output kinds; None at entry)."""
    decode = _VALUES.get(kind)
    if decode is not None:
        return decode(call, i)
    try:
        return _MEMORY[kind](call, i, result)
    except GuestError:
        return pointer(call.ptr(i))


def _mode(call: Call, i: int) -> str:
    return "0" + format(call.int(i) & 0o7777, "o")


def _atfd(call: Call, i: int) -> str:
    fd = call.fd(i)
    return "AT_FDCWD" if fd == F.AT_FDCWD else str(fd)


def _named(names: tuple[str, ...]) -> Callable[[Call, int], str]:
    def decode(call: Call, i: int) -> str:
        value = call.int(i)
        return names[value] if 0 <= value < len(names) else str(value)

    return decode


def _ioctl_request(call: Call, i: int) -> str:
    value = call.u64(i) & 0xFFFFFFFF
    return IOCTLS.get(value, hex(value))


def _fcntl_cmd(call: Call, i: int) -> str:
    return FCNTL_COMMANDS.get(call.int(i), str(call.int(i)))


def _map_flags(call: Call, i: int) -> str:
    value = call.int(i) & 0xFFFFFFFF
    kind = MAP_TYPES.get(value & F.MAP_TYPE, hex(value & F.MAP_TYPE))
    return "|".join([kind, *flag_names(value & ~F.MAP_TYPE, MAP_FLAGS)])


_VALUES: dict[str, Callable[[Call, int], str]] = {
    "fd": lambda call, i: str(call.fd(i)),
    "atfd": _atfd,
    "int": lambda call, i: str(call.long(i)),
    "uint": lambda call, i: str(call.u64(i) & 0xFFFFFFFF),
    "hex": lambda call, i: hex_or_zero(call.u64(i)),
    "ptr": lambda call, i: pointer(call.ptr(i)),
    "oflags": lambda call, i: open_flags(call.int(i)),
    "fdflags": lambda call, i: "|".join(flag_names(call.int(i), OPEN_FLAGS)) or "0",
    "fd_flags": lambda call, i: "FD_CLOEXEC" if call.int(i) == 1 else str(call.int(i)),
    "atflags": lambda call, i: at_flags(call.int(i)),
    "amode": lambda call, i: access_mode(call.int(i)),
    "mode": _mode,
    "whence": _named(WHENCES),
    "sighow": _named(SIGPROCMASK_HOWS),
    "clock": _named(CLOCKS),
    "signal": lambda call, i: signal_name(call.int(i)),
    "prot": lambda call, i: "|".join(flag_names(call.int(i), PROT_FLAGS)) or "PROT_NONE",
    "map_flags": _map_flags,
    "wait_options": lambda call, i: "|".join(flag_names(call.int(i) & 0xFFFFFFFF, WAIT_OPTIONS))
    or "0",
    "ioctl_request": _ioctl_request,
    "fcntl_cmd": _fcntl_cmd,
}


# -- kinds that read the caller's memory (a GuestError shows the pointer instead) ----------
def _buffer(call: Call, i: int, length: int) -> str:
    shown = min(length, BUFFER_SHOWN)
    return quote(call.read(i, shown), truncated=length > shown)


def _failed(call: Call, i: int, result: int | None) -> bool:
    """An output argument the call did not fill: shown as its pointer."""
    return result is None or result < 0 or call.ptr(i) == 0


def _obuf(call: Call, i: int, result: int | None) -> str:
    if _failed(call, i, result):
        return pointer(call.ptr(i))
    assert result is not None
    return _buffer(call, i, result)


def _ostr(call: Call, i: int, result: int | None) -> str:
    if _failed(call, i, result):
        return pointer(call.ptr(i))
    return quote(call.path(i))


def _iovecs(call: Call, i: int, total: int | None) -> str:
    """``[{iov_base="abc", iov_len=3}, …]``: the data (``total`` bytes of it, for readv)."""
    count = call.int(i + 1)
    if not 0 <= count <= IOV_MAX:  # (the call fails with EINVAL)
        return pointer(call.ptr(i))
    if count == 0:
        return "[]"  # (as strace: no element read, whatever the pointer)
    items, left = [], total
    mem = call.memory(i)
    for base, length in pointers.iovec_entries(mem, call.ptr(i), min(count, ARRAY_SHOWN)):
        if base == 0:
            data = "NULL"
        else:
            n = length if left is None else min(length, left)
            view = mem.read(base, min(n, BUFFER_SHOWN))
            data = quote(view, truncated=n > BUFFER_SHOWN)
            if left is not None:
                left -= n
        items.append(f"{{iov_base={data}, iov_len={length}}}")
    more = ", ..." if count > ARRAY_SHOWN else ""
    return "[" + ", ".join(items) + more + "]"


def _oiov(call: Call, i: int, result: int | None) -> str:
    if _failed(call, i, result):
        return pointer(call.ptr(i))
    return _iovecs(call, i, result)


def _struct(text: Callable[[bytes], str], size: int) -> Callable[[Call, int, int | None], str]:
    def decode(call: Call, i: int, result: int | None) -> str:
        if _failed(call, i, result):
            return pointer(call.ptr(i))
        return text(call.read(i, size))

    return decode


def _wstatus(call: Call, i: int, result: int | None) -> str:
    if result is None or result <= 0 or call.ptr(i) == 0:  # 0: WNOHANG, nothing to report
        return pointer(call.ptr(i))
    return wait_status(_I32.unpack(call.read(i, 4))[0])


def _fdpair(call: Call, i: int, result: int | None) -> str:
    if _failed(call, i, result):
        return pointer(call.ptr(i))
    read_end, write_end = struct.unpack("<ii", call.read(i, 8))
    return f"[{read_end}, {write_end}]"


def _oint(call: Call, i: int, result: int | None) -> str:
    if _failed(call, i, result):
        return pointer(call.ptr(i))
    return f"[{_I32.unpack(call.read(i, 4))[0]}]"


def _iint(call: Call, i: int, result: int | None) -> str:
    if call.ptr(i) == 0:
        return "NULL"
    return f"[{_I32.unpack(call.read(i, 4))[0]}]"


def _fields(layout: layouts.StructLayout, data: bytes, names: tuple[str, ...]) -> str:
    """``{a=1, b=2}``: integer fields of a struct."""
    values = layout.unpack_from(data)
    return "{" + ", ".join(f"{name}={int(values[name])}" for name in names) + "}"


def _timespec(data: bytes) -> str:
    return _fields(layouts.TIMESPEC, data, ("tv_sec", "tv_nsec"))


def _itimespec(call: Call, i: int, result: int | None) -> str:
    if call.ptr(i) == 0:
        return "NULL"
    return _timespec(call.read(i, layouts.TIMESPEC.size))


def _winsize(data: bytes) -> str:
    return _fields(layouts.WINSIZE, data, ("ws_row", "ws_col", "ws_xpixel", "ws_ypixel"))


def _strings(call: Call, i: int) -> list[int]:
    """The pointers of a NULL-terminated array (``argv``), at most ARRAY_SHOWN + 1 of them."""
    found = []
    for k in range(ARRAY_SHOWN + 1):
        (item,) = _U32.unpack(call.read(i, 4, 4 * k))
        if item == 0:
            break
        found.append(item)
    return found


def _argv(call: Call, i: int, result: int | None) -> str:
    if call.ptr(i) == 0:
        return "NULL"
    memory = call.memory(i)
    addresses = _strings(call, i)
    items = []
    for address in addresses[:ARRAY_SHOWN]:
        text = memory.read_cstring(address, 4096)
        items.append(quote(text[:BUFFER_SHOWN], truncated=len(text) > BUFFER_SHOWN))
    more = ", ..." if len(addresses) > ARRAY_SHOWN else ""
    return "[" + ", ".join(items) + more + "]"


def _envp(call: Call, i: int, result: int | None) -> str:
    if call.ptr(i) == 0:
        return "NULL"
    count = 0
    while _U32.unpack(call.read(i, 4, 4 * count))[0] != 0:
        count += 1
    return f"{hex(call.ptr(i))} /* {count} var{'' if count == 1 else 's'} */"


_MEMORY: dict[str, Callable[[Call, int, int | None], str]] = {
    "path": lambda call, i, result: quote(call.path(i)),
    "ibuf": lambda call, i, result: _buffer(call, i, call.u64(i + 1) & 0xFFFFFFFF),
    "iiov": lambda call, i, result: _iovecs(call, i, None),
    "obuf": _obuf,
    "ostr": _ostr,
    "oiov": _oiov,
    "stat": _struct(stat_text, layouts.STAT.size),
    "termios": _struct(termios_text, layouts.TERMIOS.size),
    "winsize": _struct(_winsize, layouts.WINSIZE.size),
    "otimespec": _struct(_timespec, layouts.TIMESPEC.size),
    "timespec": _itimespec,
    "wstatus": _wstatus,
    "fdpair": _fdpair,
    "oint": _oint,
    "iint": _iint,
    "argv": _argv,
    "envp": _envp,
}
