"""The one RawPOSIX system-call table, and the dispatcher that turns errors into ``-errno``.

Theory of operation
-------------------
Each entry maps a Linux x86_64 number to a name, a handler, a support level and a note (gVisor's
``linux64.go`` shape). Calls the microvisor knows but does not implement still have an entry with a
fixed errno and the reason, so tracing, the support matrix and error messages read one table.

Handlers share one signature — ``handler(cage, a1, a2, a3, a4, a5, a6)`` with the raw 64-bit
slots — and return either an ``int`` (done now) or an awaitable of one (the cage must wait).
:func:`dispatch` is the only place a :class:`GuestError` or host ``OSError`` becomes a negative
errno; any other exception propagates and kills only the calling cage.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import ENOSYS, GuestError

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage

SysResult = int | Awaitable[int]
Handler = Callable[["Cage", int, int, int, int, int, int], SysResult]
Row = tuple[int, Handler, "Support", str]  # number, handler, support level, note


class Support(enum.Enum):
    FULL = "full"
    PARTIAL = "partial"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class Syscall:
    number: int
    name: str
    handler: Handler
    support: Support
    note: str = ""


def _unsupported(errno: int) -> Handler:
    def handler(cage: Cage, *_: int) -> int:
        return -errno

    return handler


def _build() -> dict[int, Syscall]:
    from lind_async.rawposix import exec as exec_
    from lind_async.rawposix import (
        fd,
        fs,
        futex,
        io,
        misc,
        proc,
        procinfo,
        signal,
        threei_ops,
        time,
    )
    from lind_async.runtime import fork, threads

    full, partial = Support.FULL, Support.PARTIAL
    rows: list[Row] = [
        # io
        (nr.SYS_read, io.sys_read, full, ""),
        (nr.SYS_write, io.sys_write, full, ""),
        (nr.SYS_readv, io.sys_readv, full, ""),
        (nr.SYS_writev, io.sys_writev, full, ""),
        (nr.SYS_pread64, io.sys_pread64, full, ""),
        (nr.SYS_pwrite64, io.sys_pwrite64, full, ""),
        (nr.SYS_lseek, io.sys_lseek, full, ""),
        (nr.SYS_close, io.sys_close, full, ""),
        (nr.SYS_ioctl, io.sys_ioctl, partial,
         "TIOCGWINSZ, TCGETS (tty probe), FIONBIO, FIOASYNC, SIOCGIF*"),
        (nr.SYS_fcntl, io.sys_fcntl, partial,
         "FD/FL (O_ASYNC), DUPFD, PIPE_SZ, [OFD_]GETLK/SETLK[W], SETOWN[_EX]/SETSIG (sigio.py)"),
        # fd
        (nr.SYS_pipe, fd.sys_pipe, full, "in-process buffer, no host fd"),
        (nr.SYS_pipe2, fd.sys_pipe2, full, "O_CLOEXEC O_NONBLOCK"),
        (nr.SYS_dup, fd.sys_dup, full, ""),
        (nr.SYS_dup2, fd.sys_dup2, full, ""),
        (nr.SYS_dup3, fd.sys_dup3, full, ""),
        # fs
        (nr.SYS_open, fs.sys_open, full, "confined to --root"),
        (nr.SYS_openat, fs.sys_openat, full, "confined to --root"),
        (nr.SYS_fstat, fs.sys_fstat, full, ""),
        (nr.SYS_stat, fs.sys_stat, full, ""),
        (nr.SYS_lstat, fs.sys_lstat, full, ""),
        (nr.SYS_newfstatat, fs.sys_newfstatat, full, ""),
        (nr.SYS_getdents64, fs.sys_getdents64, full, ""),
        (nr.SYS_getcwd, fs.sys_getcwd, full, ""),
        (nr.SYS_chdir, fs.sys_chdir, full, ""),
        (nr.SYS_mkdir, fs.sys_mkdir, full, ""),
        (nr.SYS_mkdirat, fs.sys_mkdirat, full, ""),
        (nr.SYS_rmdir, fs.sys_rmdir, full, ""),
        (nr.SYS_unlink, fs.sys_unlink, full, ""),
        (nr.SYS_unlinkat, fs.sys_unlinkat, full, ""),
        (nr.SYS_access, fs.sys_access, full, ""),
        (nr.SYS_faccessat, fs.sys_faccessat, full, ""),
        (nr.SYS_faccessat2, fs.sys_faccessat2, full, ""),
        (nr.SYS_fork, fork.sys_fork, partial, "lind.fork unwinds; here when a grate forwards it"),
        # 3i's own operations (interposable like any call)
        (nr.SYS_register_handler, threei_ops.sys_register_handler, full, "fn_ptr 0: deregister"),
        (nr.SYS_copy_data_between_cages, threei_ops.sys_copy_data_between_cages, full, ""),
        (nr.SYS_copy_handler_table_to_cage, threei_ops.sys_copy_handler_table_to_cage, full, ""),
        # mm: rawposix/mm_file.py ROWS
        # proc
        (nr.SYS_exit, threads.sys_exit, full, "ends the calling thread (the last: the cage)"),
        (nr.SYS_clone, threads.sys_clone, partial, "threads; CLONE_VM[|VFORK] children"),
        (nr.SYS_futex, futex.sys_futex, partial, "WAIT/WAKE[_BITSET], [CMP_]REQUEUE; no PI"),
        (nr.SYS_set_robust_list, threads.sys_set_robust_list, full, "recorded"),
        (nr.SYS_get_robust_list, threads.sys_get_robust_list, full, ""),
        (nr.SYS_membarrier, threads.sys_membarrier, full, "one OS thread: a no-op"),
        (nr.SYS_execve, exec_.sys_execve, full, "cage programs and #! scripts inside the root"),
        (nr.SYS_wait4, proc.sys_wait4, full, "rusage reported as zeros"),
        (nr.SYS_getpgid, proc.sys_getpgid, full, ""),
        (nr.SYS_getpgrp, proc.sys_getpgrp, full, ""),
        (nr.SYS_setpgid, proc.sys_setpgid, full, ""),
        (nr.SYS_getsid, proc.sys_getsid, full, ""),
        (nr.SYS_setsid, proc.sys_setsid, full, ""),
        (nr.SYS_prlimit64, proc.sys_prlimit64, partial, "NOFILE settable; others reported"),
        (nr.SYS_getrlimit, proc.sys_getrlimit, partial, ""),
        (nr.SYS_setrlimit, proc.sys_setrlimit, partial, ""),
        (nr.SYS_exit_group, proc.sys_exit_group, full, ""),
        (nr.SYS_getpid, proc.sys_getpid, full, ""),
        (nr.SYS_getppid, proc.sys_getppid, full, ""),
        (nr.SYS_prctl, proc.sys_prctl, partial, "CHILD_SUBREAPER, NAME, DUMPABLE"),
        (nr.SYS_gettid, threads.sys_gettid, full, ""),
        (nr.SYS_set_tid_address, threads.sys_set_tid_address, full, ""),
        (nr.SYS_sched_yield, proc.sys_sched_yield, full, ""),
        # time
        (nr.SYS_clock_gettime, time.sys_clock_gettime, full, ""),
        (nr.SYS_clock_getres, time.sys_clock_getres, full, ""),
        (nr.SYS_gettimeofday, time.sys_gettimeofday, full, ""),
        (nr.SYS_nanosleep, time.sys_nanosleep, full, "suspends only the calling cage"),
        (nr.SYS_clock_nanosleep, time.sys_clock_nanosleep, full, ""),
        # misc
        (nr.SYS_uname, misc.sys_uname, full, ""),
        (nr.SYS_getrandom, misc.sys_getrandom, full, ""),
        (nr.SYS_sysinfo, procinfo.sys_sysinfo, full, "host memory and load, the world's procs"),
        # signal
        (nr.SYS_rt_sigaction, signal.sys_rt_sigaction, full, ""),
        (nr.SYS_rt_sigprocmask, signal.sys_rt_sigprocmask, full, ""),
        (nr.SYS_rt_sigpending, signal.sys_rt_sigpending, full, ""),
        (nr.SYS_rt_sigsuspend, signal.sys_rt_sigsuspend, full, ""),
        (nr.SYS_pause, signal.sys_pause, full, ""),
        (nr.SYS_kill, signal.sys_kill, full, "permission per cage lineage"),
        (nr.SYS_tkill, signal.sys_tkill, partial, "process-directed"),
        (nr.SYS_tgkill, signal.sys_tgkill, partial, "process-directed"),
        (nr.SYS_alarm, signal.sys_alarm, full, ""),
        (nr.SYS_setitimer, signal.sys_setitimer, partial, "ITIMER_REAL"),
        (nr.SYS_getitimer, signal.sys_getitimer, partial, "ITIMER_REAL"),
        (
            nr.SYS_sigaltstack,
            signal.sys_sigaltstack,
            partial,
            "handlers use the cage's signal stack",
        ),
    ]
    for family in _FAMILIES:
        rows += importlib.import_module(f"lind_async.rawposix.{family}").ROWS
    table = {n: Syscall(n, nr.NAMES[n], h, s, note) for n, h, s, note in rows}
    for n, errno, note in _KNOWN_UNSUPPORTED:
        table.setdefault(n, Syscall(n, nr.NAMES[n], _unsupported(errno), Support.UNSUPPORTED, note))
    return table


# Families that declare their own rows (``ROWS: list[Row]``), one module each.
_FAMILIES = (
    "io", "fs_meta", "locks", "sockets", "poll", "epoll", "eventfd", "timerfd", "signalfd",
    "mm_file", "sysv_shm", "sysv_sem", "sysv_msg", "exec", "creds",
)

_KNOWN_UNSUPPORTED: list[tuple[int, int, str]] = []

TABLE: dict[int, Syscall] = {}
_HANDLERS: dict[int, Handler] = {}


def load() -> dict[int, Syscall]:
    """Build the table once (family modules import the runtime's types lazily)."""
    if not TABLE:
        TABLE.update(_build())
        _HANDLERS.update({n: s.handler for n, s in TABLE.items()})
    return TABLE


def dispatch(
    cage: Cage, number: int, a1: int, a2: int, a3: int, a4: int, a5: int, a6: int
) -> SysResult:
    """Run RawPOSIX's handler for ``number``: an ``int`` now, or an awaitable of one."""
    handler = _HANDLERS.get(number)
    if handler is None:
        return -ENOSYS
    try:
        result = handler(cage, a1, a2, a3, a4, a5, a6)
    except (GuestError, OSError) as exc:
        return _negative_errno(exc)
    if result.__class__ is int:
        return result
    return _finish(result)  # type: ignore[arg-type]


async def _finish(pending: Awaitable[int]) -> int:
    try:
        return await pending
    except (GuestError, OSError) as exc:
        return _negative_errno(exc)


def _negative_errno(exc: GuestError | OSError) -> int:
    """The guest's view of a failed call; an ``OSError`` without an errno is a host bug."""
    if exc.errno is None:
        raise exc
    return -exc.errno


def name_of(number: int) -> str:
    entry = load().get(number)
    return entry.name if entry else nr.NAMES.get(number, f"syscall_{number}")
