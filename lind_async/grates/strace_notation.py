"""strace's notation for values: C string literals, flag sets, ``struct stat``, wait statuses,
termios, siginfo, results (``-1 ENOENT (No such file or directory)``). Pure functions of the
values (the ``strace`` grate's :mod:`strace_decode` reads them from the caller's memory); each
follows what strace 6 prints without ``-v``/``-x``.
"""

from __future__ import annotations

import errno
import os
import signal
from typing import TYPE_CHECKING

from lind_async.abi import flags as F
from lind_async.abi import layouts

if TYPE_CHECKING:
    from lind_async.threei.python_grates import Call

OPEN_FLAGS = [
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
AT_FLAGS = [
    (F.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"),
    (F.AT_REMOVEDIR, "AT_REMOVEDIR"),
    (F.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"),
    (F.AT_EMPTY_PATH, "AT_EMPTY_PATH"),
]
PROT_FLAGS = [(F.PROT_READ, "PROT_READ"), (F.PROT_WRITE, "PROT_WRITE"), (F.PROT_EXEC, "PROT_EXEC")]
MAP_FLAGS = [
    (F.MAP_FIXED, "MAP_FIXED"),
    (F.MAP_ANONYMOUS, "MAP_ANONYMOUS"),
    (F.MAP_GROWSDOWN, "MAP_GROWSDOWN"),
    (F.MAP_DENYWRITE, "MAP_DENYWRITE"),
    (F.MAP_EXECUTABLE, "MAP_EXECUTABLE"),
    (F.MAP_LOCKED, "MAP_LOCKED"),
    (F.MAP_NORESERVE, "MAP_NORESERVE"),
    (F.MAP_POPULATE, "MAP_POPULATE"),
    (F.MAP_NONBLOCK, "MAP_NONBLOCK"),
    (F.MAP_STACK, "MAP_STACK"),
    (F.MAP_HUGETLB, "MAP_HUGETLB"),
    (F.MAP_SYNC, "MAP_SYNC"),
    (F.MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"),
]
MAP_TYPES = {F.MAP_SHARED: "MAP_SHARED", F.MAP_PRIVATE: "MAP_PRIVATE",
              F.MAP_SHARED_VALIDATE: "MAP_SHARED_VALIDATE"}
WAIT_OPTIONS = [(1, "WNOHANG"), (2, "WUNTRACED"), (8, "WCONTINUED"), (0x20000000, "__WNOTHREAD"),
                 (0x40000000, "__WALL"), (0x80000000, "__WCLONE")]
ACCESS_MODES = ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")
WHENCES = ("SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE")
SIGPROCMASK_HOWS = ("SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK")
CLOCKS = ("CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID",
           "CLOCK_THREAD_CPUTIME_ID", "CLOCK_MONOTONIC_RAW", "CLOCK_REALTIME_COARSE",
           "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME")
_HEX_RESULTS = frozenset({"brk", "mmap"})

# ioctl requests by number (x86_64 values; asm-generic/ioctls.h) and what their argument is.
IOCTLS: dict[int, str] = {
    0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF",
    0x5409: "TCSBRK", 0x540A: "TCXONC", 0x540B: "TCFLSH", 0x540E: "TIOCSCTTY",
    0x540F: "TIOCGPGRP", 0x5410: "TIOCSPGRP", 0x5411: "TIOCOUTQ", 0x5413: "TIOCGWINSZ",
    0x5414: "TIOCSWINSZ", 0x541B: "FIONREAD", 0x5421: "FIONBIO", 0x5422: "TIOCNOTTY",
    0x5429: "TIOCGSID", 0x5450: "FIONCLEX", 0x5451: "FIOCLEX", 0x5452: "FIOASYNC",
    0x80045430: "TIOCGPTN", 0x40045431: "TIOCSPTLCK",
}
FCNTL_COMMANDS = {F.F_DUPFD: "F_DUPFD", F.F_GETFD: "F_GETFD", F.F_SETFD: "F_SETFD",
           F.F_GETFL: "F_GETFL", F.F_SETFL: "F_SETFL", F.F_DUPFD_CLOEXEC: "F_DUPFD_CLOEXEC",
           5: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN",
           36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW", 1031: "F_SETPIPE_SZ",
           1032: "F_GETPIPE_SZ"}
_S_IFMT = 0o170000
_FILE_TYPES = {0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG",
               0o060000: "S_IFBLK", 0o040000: "S_IFDIR", 0o020000: "S_IFCHR",
               0o010000: "S_IFIFO"}
_BAUDS = ("B0", "B50", "B75", "B110", "B134", "B150", "B200", "B300", "B600", "B1200", "B1800",
          "B2400", "B4800", "B9600", "B19200", "B38400")


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
        elif char == "\f":
            out.append("\\f")
        elif char == "\v":
            out.append("\\v")
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            next_is_digit = i + 1 < len(data) and 0x30 <= data[i + 1] <= 0x37
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
    access = ACCESS_MODES[value & F.O_ACCMODE]
    return "|".join([access, *flag_names(value & ~F.O_ACCMODE, OPEN_FLAGS)])


def at_flags(value: int) -> str:
    return "|".join(flag_names(value, AT_FLAGS)) or "0"


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


def hex_or_zero(value: int) -> str:
    """strace's ``%#lx``: ``0`` or ``0x…``."""
    return hex(value) if value else "0"


def file_mode(mode: int) -> str:
    """``st_mode`` as strace shows it: ``S_IFREG|0644``, ``S_IFDIR|S_ISVTX|0777``."""
    parts = []
    kind = _FILE_TYPES.get(mode & _S_IFMT)
    if kind is not None:
        parts.append(kind)
    for bit, name in ((0o4000, "S_ISUID"), (0o2000, "S_ISGID"), (0o1000, "S_ISVTX")):
        if mode & bit:
            parts.append(name)
    parts.append(f"0{mode & 0o777:o}" if mode & 0o777 else "000")
    return "|".join(parts)


def device(dev: int) -> str:
    major = ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF)
    minor = (dev & 0xFF) | ((dev >> 12) & ~0xFF)
    return f"makedev({hex_or_zero(major)}, {hex_or_zero(minor)})"


def stat_text(data: bytes) -> str:
    """An abbreviated ``struct stat`` (strace without ``-v``)."""
    st = layouts.STAT.unpack_from(data)
    mode = int(st["st_mode"])
    size = (
        f"st_rdev={device(int(st['st_rdev']))}"
        if mode & _S_IFMT in (0o020000, 0o060000)
        else f"st_size={int(st['st_size'])}"
    )
    return f"{{st_mode={file_mode(mode)}, {size}, ...}}"


def wait_status(status: int) -> str:
    """A wait status as strace shows it: ``[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]``."""
    low = status & 0x7F
    if low == 0:
        text = f"WIFEXITED(s) && WEXITSTATUS(s) == {(status >> 8) & 0xFF}"
    elif low == 0x7F:
        text = f"WIFSTOPPED(s) && WSTOPSIG(s) == {signal_name((status >> 8) & 0xFF)}"
    elif status == 0xFFFF:
        text = "WIFCONTINUED(s)"
    else:
        core = " && WCOREDUMP(s)" if status & 0x80 else ""
        text = f"WIFSIGNALED(s) && WTERMSIG(s) == {signal_name(low)}{core}"
    return f"[{{{text}}}]"


def termios_text(data: bytes) -> str:
    """An abbreviated termios (strace without ``-v``): ``{B38400 opost isig icanon echo ...}``."""
    t = layouts.TERMIOS.unpack_from(data)
    cflag, oflag, lflag = int(t["c_cflag"]), int(t["c_oflag"]), int(t["c_lflag"])
    speed = cflag & 0o10017
    baud = _BAUDS[speed] if speed < len(_BAUDS) else f"B{speed:#o}"
    bits = [("opost", oflag & 1), ("isig", lflag & 1), ("icanon", lflag & 2), ("echo", lflag & 8)]
    return "{" + " ".join([baud] + [n if on else "-" + n for n, on in bits]) + " ...}"


def result_text(name: str, result: int, call: Call | None = None) -> str:
    """``= …``'s right side: the value, or ``-1 ENOENT (No such file or directory)``."""
    if -4096 < result < 0:
        code = -result
        label = errno.errorcode.get(code, f"E{code}")
        return f"-1 {label} ({os.strerror(code)})"
    if name in _HEX_RESULTS:
        return hex(result & 0xFFFFFFFF)
    if name == "fcntl" and call is not None:
        command = FCNTL_COMMANDS.get(call.int(1))
        if command == "F_GETFD" and result:
            return f"{hex(result)} (flags {'FD_CLOEXEC' if result & 1 else hex(result)})"
        if command == "F_GETFL":
            return f"{hex_or_zero(result)} (flags {open_flags(result)})"
    return str(result)


def signal_info(signo: int, sender: int, uid: int, child_status: int | None) -> str:
    """A delivered signal's siginfo as strace shows it (``--- SIGCHLD {…} ---``'s braces).

    ``child_status`` is the wait status of the child a ``SIGCHLD`` reports (None: sent with
    ``kill``); ``sender`` 0 is the kernel."""
    name = signal_name(signo)
    if signo == signal.SIGCHLD and child_status is not None:
        low = child_status & 0x7F
        if low == 0:
            code, status = "CLD_EXITED", str((child_status >> 8) & 0xFF)
        elif low == 0x7F:
            code, status = "CLD_STOPPED", signal_name((child_status >> 8) & 0xFF)
        elif child_status == 0xFFFF:
            code, status = "CLD_CONTINUED", "SIGCONT"
        else:
            code = "CLD_DUMPED" if child_status & 0x80 else "CLD_KILLED"
            status = signal_name(low)
        return (
            f"{{si_signo={name}, si_code={code}, si_pid={sender}, si_uid={uid}, "
            f"si_status={status}, si_utime=0, si_stime=0}}"
        )
    if sender == 0:
        return f"{{si_signo={name}, si_code=SI_KERNEL}}"
    return f"{{si_signo={name}, si_code=SI_USER, si_pid={sender}, si_uid={uid}}}"
