"""RawPOSIX process family: fork (forwarded), exit_group, wait4, ids, groups, limits, prctl."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, EPERM, ESRCH, GuestError
from lind_async.core.proctable import WNOHANG
from lind_async.rawposix import procinfo
from lind_async.rawposix.args import i32, pointer
from lind_async.rawposix.blocking import block, on_queue
from lind_async.rawposix.kernel import CageExit
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView
    from lind_async.rawposix.table import SysResult


def sys_fork(cage: CageView, *_: int) -> SysResult:
    """``fork`` reaching RawPOSIX: only when a grate forwards a cage's fork (its own fork unwinds
    through ``lind.fork`` and never comes here); the process layer makes the child."""
    return cage.ops.fork()


def sys_exit_group(cage: CageView, code: int, *_: int) -> int:
    raise CageExit((i32(code) & 0xFF) << 8)


def sys_getpid(cage: CageView, *_: int) -> int:
    return cage.cage_id


def sys_getppid(cage: CageView, *_: int) -> int:
    # the process table's parent: an orphan's is its new one (a subreaper or the reaper)
    procs = cage.world.procs
    return procs.get(cage.cage_id).ppid if cage.cage_id in procs else cage.parent_id


PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37


def sys_prctl(cage: CageView, option: int, arg2: int, *_: int) -> int:
    """prctl: the child-subreaper flag (orphaned descendants are re-parented to the nearest
    living subreaper ancestor, proctable.py), the name and the dumpable flag (procinfo.py);
    other options are EINVAL."""
    proc = cage.world.procs.get(cage.cage_id)
    op = i32(option)
    if op == PR_SET_CHILD_SUBREAPER:
        proc.subreaper = bool(arg2)
        return 0
    if op == PR_GET_CHILD_SUBREAPER:
        cage.mem.write_u32(pointer(arg2), int(proc.subreaper))
        return 0
    return procinfo.prctl(cage, op, arg2)


async def _yield() -> int:
    await asyncio.sleep(0)
    return 0


def sys_sched_yield(cage: CageView, *_: int) -> Awaitable[int]:
    return _yield()


# -- wait ------------------------------------------------------------------------------------------
_RUSAGE_SIZE = 144  # the x86_64 kernel struct rusage (18 x 64-bit)


def sys_wait4(
    cage: CageView, pid: int, wstatus: int, options: int, rusage: int, *_: int,
) -> SysResult:
    which, opts = i32(pid), i32(options)
    status_addr, rusage_addr = pointer(wstatus), pointer(rusage)
    if status_addr:
        cage.mem.check(status_addr, 4)
    if rusage_addr:
        cage.mem.check(rusage_addr, _RUSAGE_SIZE)
    found = cage.world.procs.wait(cage.cage_id, which, opts)
    if found is not None:
        return _report(cage, found, status_addr, rusage_addr)
    if opts & WNOHANG:
        return 0  # WNOHANG answers 0, not block()'s EAGAIN
    # Look before every wait, the first included: a child that changed state between the
    # handler's look and the waiter's first step woke no one.
    return block(lambda: _wait_again(cage, which, opts, status_addr, rusage_addr),
                 on_queue(cage, cage.world.child_waits(cage.cage_id)), look_first=True)


def _wait_again(
    cage: CageView, which: int, opts: int, status_addr: int, rusage_addr: int,
) -> int | None:
    found = cage.world.procs.wait(cage.cage_id, which, opts)
    return None if found is None else _report(cage, found, status_addr, rusage_addr)


def _report(cage: CageView, found: tuple[int, int], status_addr: int, rusage_addr: int) -> int:
    child, status = found
    if status_addr:
        cage.mem.write_u32(status_addr, status)
    if rusage_addr:
        cage.mem.fill(rusage_addr, _RUSAGE_SIZE)
    return child


# -- process groups and sessions ------------------------------------------------------------------
def sys_getpgid(cage: CageView, pid: int, *_: int) -> int:
    return cage.world.procs.get(i32(pid) or cage.cage_id).pgid


def sys_getpgrp(cage: CageView, *_: int) -> int:
    return cage.world.procs.get(cage.cage_id).pgid


def sys_setpgid(cage: CageView, pid: int, pgid: int, *_: int) -> int:
    cage.world.procs.setpgid(cage.cage_id, i32(pid), i32(pgid))
    return 0


def sys_getsid(cage: CageView, pid: int, *_: int) -> int:
    return cage.world.procs.get(i32(pid) or cage.cage_id).sid


def sys_setsid(cage: CageView, *_: int) -> int:
    return cage.world.procs.setsid(cage.cage_id)


# -- resource limits -------------------------------------------------------------------------------
RLIM_INFINITY = (1 << 64) - 1
RLIMIT_STACK, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_AS = 3, 6, 7, 9
_RLIMIT = struct.Struct("<QQ")


def stack_rlimit(stack_size: int) -> int:
    """``RLIMIT_STACK`` for a main stack of ``stack_size`` bytes: whole MiB, the margin the
    driver leaves below them not counted (``toolchain/cc.py``: 8 MiB + 64 KiB reads as 8 MiB)."""
    whole = stack_size & ~((1 << 20) - 1)
    return whole if whole else stack_size


def _limits(cage: CageView) -> dict[int, tuple[int, int]]:
    limit = cage.ops.memory_limit()
    mem = RLIM_INFINITY if limit is None else limit
    return {
        RLIMIT_NOFILE: (cage.fds.limit, cage.fds.hard_limit),
        RLIMIT_STACK: (stack_rlimit(cage.stack_size),) * 2,
        RLIMIT_AS: (mem, mem),
        RLIMIT_NPROC: (cage.world.max_cages, cage.world.max_cages),
    }


def sys_prlimit64(cage: CageView, pid: int, resource: int, new: int, old: int, *_: int) -> int:
    target = i32(pid)
    if target not in (0, cage.cage_id):
        raise GuestError(EPERM if target in cage.world.procs else ESRCH)
    which = i32(resource)
    if not 0 <= which < 16:
        raise GuestError(EINVAL)
    current = _limits(cage).get(which, (RLIM_INFINITY, RLIM_INFINITY))
    if pointer(new):
        soft, hard = cage.mem.unpack(_RLIMIT, pointer(new))
        if soft > hard:
            raise GuestError(EINVAL)
        if which == RLIMIT_NOFILE:
            if hard > cage.fds.hard_limit:
                raise GuestError(EPERM)
            cage.fds.limit = soft
            cage.fds.hard_limit = hard
        elif hard > current[1]:
            raise GuestError(EPERM)
    if pointer(old):
        cage.mem.pack(_RLIMIT, pointer(old), *current)
    return 0


def sys_getrlimit(cage: CageView, resource: int, old: int, *_: int) -> int:
    return sys_prlimit64(cage, 0, resource, 0, old)


def sys_setrlimit(cage: CageView, resource: int, new: int, *_: int) -> int:
    return sys_prlimit64(cage, 0, resource, new, 0)


ROWS: list[Row] = [
    (nr.SYS_fork, sys_fork, Support.PARTIAL, "lind.fork unwinds; here when a grate forwards it"),
    (nr.SYS_wait4, sys_wait4, Support.FULL, "rusage reported as zeros"),
    (nr.SYS_getpgid, sys_getpgid, Support.FULL, ""),
    (nr.SYS_getpgrp, sys_getpgrp, Support.FULL, ""),
    (nr.SYS_setpgid, sys_setpgid, Support.FULL, ""),
    (nr.SYS_getsid, sys_getsid, Support.FULL, ""),
    (nr.SYS_setsid, sys_setsid, Support.FULL, ""),
    (nr.SYS_prlimit64, sys_prlimit64, Support.PARTIAL, "NOFILE settable; others reported"),
    (nr.SYS_getrlimit, sys_getrlimit, Support.PARTIAL, ""),
    (nr.SYS_setrlimit, sys_setrlimit, Support.PARTIAL, ""),
    (nr.SYS_exit_group, sys_exit_group, Support.FULL, ""),
    (nr.SYS_getpid, sys_getpid, Support.FULL, ""),
    (nr.SYS_getppid, sys_getppid, Support.FULL, ""),
    (nr.SYS_prctl, sys_prctl, Support.PARTIAL, "CHILD_SUBREAPER, NAME, DUMPABLE"),
    (nr.SYS_sched_yield, sys_sched_yield, Support.FULL, ""),
]
