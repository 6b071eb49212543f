"""RawPOSIX process family (this issue's part): exit, ids, set_tid_address, sched_yield."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from lind_async.rawposix.args import i32

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage


class CageExit(BaseException):
    """Raised inside a syscall handler to end the calling cage with a wait status.

    Derives from ``BaseException`` so no ``except Exception`` on the way can swallow it.
    ``status`` is a Linux wait status: ``code << 8`` for an exit, the signal number for a kill.
    """

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def sys_exit_group(cage: Cage, code: int, *_: int) -> int:
    raise CageExit((i32(code) & 0xFF) << 8)


def sys_exit(cage: Cage, code: int, *_: int) -> int:
    # Cages are single-threaded until threads arrive: the last thread's exit ends the cage.
    raise CageExit((i32(code) & 0xFF) << 8)


def sys_getpid(cage: Cage, *_: int) -> int:
    return cage.cage_id


def sys_gettid(cage: Cage, *_: int) -> int:
    return cage.cage_id


def sys_getppid(cage: Cage, *_: int) -> int:
    return cage.parent_id


# Cages run as the user who runs the microvisor (so programs see the same ids as natively).
def sys_getuid(cage: Cage, *_: int) -> int:
    return os.getuid()


def sys_geteuid(cage: Cage, *_: int) -> int:
    return os.geteuid()


def sys_getgid(cage: Cage, *_: int) -> int:
    return os.getgid()


def sys_getegid(cage: Cage, *_: int) -> int:
    return os.getegid()


def sys_set_tid_address(cage: Cage, tidptr: int, *_: int) -> int:
    cage.clear_child_tid = tidptr
    return cage.cage_id


async def _yield() -> int:
    await asyncio.sleep(0)
    return 0


def sys_sched_yield(cage: Cage, *_: int) -> Awaitable[int]:
    return _yield()
