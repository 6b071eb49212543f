"""RawPOSIX futex: the wait queues behind pthread mutexes, condition variables, joins, semaphores.

Theory of operation
-------------------
All of a microvisor's wasm runs on the event loop's thread, one fiber at a time, and a host call
runs while every fiber is suspended. So when a ``futex`` handler runs, guest memory cannot change
under it: *reading the futex word and queueing the caller happen in the synchronous part of the
handler*, with no waker able to slip in between (the atomicity Linux gets from its hash-bucket
lock). The handler then returns an awaitable, and only the calling thread's fiber waits.

Queues are keyed by ``(memory, address)``: ``memory`` is the host address of the linear memory's
base, which every thread of a cage shares (and a ``vfork`` child too), and differs between any two
memories alive at once. A *shared* futex (no ``FUTEX_PRIVATE_FLAG``) whose word lies in a
``MAP_SHARED`` anonymous mapping is keyed by ``(-object id, offset in the object)`` instead
(rawposix/shm.py), so processes mapping the same object at any address meet on one queue — as
Linux keys shared futexes by inode and offset. Anywhere else the flag changes nothing (Linux keys
a shared futex on private anonymous memory by address space and address too).

Operations (``futex(uaddr, op, val, timeout|val2, uaddr2, val3)``):

- ``FUTEX_WAIT``: if ``*uaddr != val`` → ``EAGAIN``; else sleep until woken (0), until the
  *relative* timeout (``ETIMEDOUT``), or until a signal for the cage interrupts it (``EINTR``,
  through :meth:`Cage.block_on`).
- ``FUTEX_WAIT_BITSET``: the same with a wake mask ``val3`` (non-zero) and an *absolute* timeout on
  ``CLOCK_MONOTONIC``, or ``CLOCK_REALTIME`` with ``FUTEX_CLOCK_REALTIME``.
- ``FUTEX_WAKE`` / ``FUTEX_WAKE_BITSET``: wake up to ``val`` waiters (FIFO) whose mask meets
  ``val3``; returns how many.
- ``FUTEX_REQUEUE`` / ``FUTEX_CMP_REQUEUE``: wake up to ``val``, move up to ``val2`` of the rest to
  ``uaddr2`` (the second only if ``*uaddr == val3``, else ``EAGAIN``); musl's condition variables
  use it.
- PI futexes and ``FUTEX_WAKE_OP`` → ``ENOSYS`` (musl's normal and robust mutexes do not need them).

Guests never wait inside wasm (``memory.atomic.wait32`` on the loop thread would stall every cage):
lind-musl's ``__wait``/``__timedwait`` spin briefly, then make this call. The only
``memory.atomic.wait32`` in a linked module is wasm-ld's once-only ``__wasm_init_memory`` guard,
which a thread's instance passes without waiting (the main instance finished it).

:class:`FutexTable` is pure queue state (no guest memory, no clock) so it can be unit-tested.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EAGAIN, EINVAL, ENOSYS, ETIMEDOUT, GuestError
from lind_async.rawposix import shm, structs
from lind_async.rawposix.args import i32, pointer, u32
from lind_async.rawposix.table import Row, Support

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView
    from lind_async.rawposix.table import SysResult

FUTEX_WAIT = 0
FUTEX_WAKE = 1
FUTEX_REQUEUE = 3
FUTEX_CMP_REQUEUE = 4
FUTEX_WAIT_BITSET = 9
FUTEX_WAKE_BITSET = 10
FUTEX_PRIVATE_FLAG = 128
FUTEX_CLOCK_REALTIME = 256
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF

_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
_NS = 1_000_000_000
_INT_MAX = 0x7FFFFFFF

Key = tuple[int, int]


class Waiter:
    """One thread sleeping on a futex word: the future it waits on, its mask, its queue's key."""

    __slots__ = ("bitset", "future", "key")

    def __init__(self, key: Key, bitset: int, future: asyncio.Future[None]) -> None:
        self.key = key
        self.bitset = bitset
        self.future = future


class FutexTable:
    """The wait queues, FIFO per key. Empty queues are dropped at once."""

    __slots__ = ("_queues",)

    def __init__(self) -> None:
        self._queues: dict[Key, deque[Waiter]] = {}

    def enqueue(self, key: Key, bitset: int, future: asyncio.Future[None]) -> Waiter:
        waiter = Waiter(key, bitset, future)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        queue.append(waiter)
        return waiter

    def remove(self, waiter: Waiter) -> None:
        """Take ``waiter`` off its queue (it timed out, was interrupted or cancelled); no-op if a
        waker already took it."""
        queue = self._queues.get(waiter.key)
        if queue is None:
            return
        try:
            queue.remove(waiter)
        except ValueError:
            return
        if not queue:
            del self._queues[waiter.key]

    def wake(self, key: Key, count: int, bitset: int = FUTEX_BITSET_MATCH_ANY) -> int:
        """Wake up to ``count`` waiters on ``key`` whose mask meets ``bitset``; returns how many."""
        queue = self._queues.get(key)
        if queue is None or count <= 0:
            return 0
        woken = 0
        if bitset == FUTEX_BITSET_MATCH_ANY:
            while queue and woken < count:
                if _release(queue.popleft()):
                    woken += 1
        else:
            for waiter in list(queue):
                if woken >= count:
                    break
                if waiter.bitset & bitset:
                    queue.remove(waiter)
                    if _release(waiter):
                        woken += 1
        if not queue:
            del self._queues[key]
        return woken

    def requeue(self, key: Key, wake: int, to: Key, move: int) -> int:
        """Wake up to ``wake`` waiters on ``key`` and move up to ``move`` more to ``to``; returns
        woken + moved (as Linux's ``FUTEX_CMP_REQUEUE`` does)."""
        woken = self.wake(key, wake)
        queue = self._queues.get(key)
        moved = 0
        if queue is not None and move > 0 and to != key:
            target = self._queues.get(to)
            if target is None:
                target = self._queues[to] = deque()
            while queue and moved < move:
                waiter = queue.popleft()
                waiter.key = to
                target.append(waiter)
                moved += 1
            if not queue:
                del self._queues[key]
        return woken + moved

    def waiting(self, key: Key) -> int:
        queue = self._queues.get(key)
        return len(queue) if queue is not None else 0

    def __len__(self) -> int:
        """Number of keys with waiters."""
        return len(self._queues)


def _release(waiter: Waiter) -> bool:
    if waiter.future.done():  # interrupted or timed out, not yet removed by its own task
        return False
    waiter.future.set_result(None)
    return True


TABLE = FutexTable()
"""One table for every cage of every microvisor in the process (keys are host addresses)."""


def key_of(cage: CageView, addr: int, shared: bool = False) -> Key:
    """The queue key of the futex word at ``addr`` (aligned, inside memory, else an error);
    ``shared``: the op has no ``FUTEX_PRIVATE_FLAG``."""
    if addr % 4:
        raise GuestError(EINVAL)
    host = cage.mem.host_range(addr, 4)  # (checks the word is inside memory)
    if shared:
        key = shm.futex_key(cage.vm, addr)
        if key is not None:
            return key
    return (host, 0)


def wake(cage: CageView, addr: int, count: int) -> int:
    """Wake up to ``count`` waiters on a word of ``cage``'s memory (for thread exit's ctid);
    faults are ignored, as Linux does for ``clear_child_tid``."""
    try:
        return TABLE.wake(key_of(cage, addr), count)
    except GuestError:
        return 0


async def _sleep(cage: CageView, waiter: Waiter, deadline: float | None) -> int:
    loop = asyncio.get_running_loop()
    timer = None
    if deadline is not None:
        timer = loop.call_at(deadline, _time_out, waiter.future)
    try:
        await cage.block_on(waiter.future)
        return 0
    finally:
        if timer is not None:
            timer.cancel()
        TABLE.remove(waiter)


def _time_out(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(GuestError(ETIMEDOUT))


def _deadline(cage: CageView, op: int, cmd: int, timeout: int) -> float | None:
    """Loop time at which a wait gives up (None: never)."""
    addr = pointer(timeout)
    if not addr:
        return None
    ns = structs.read_timespec(cage.mem, addr)
    loop = asyncio.get_running_loop()
    if cmd == FUTEX_WAIT_BITSET:  # absolute
        clock = time.CLOCK_REALTIME if op & FUTEX_CLOCK_REALTIME else time.CLOCK_MONOTONIC
        ns -= time.clock_gettime_ns(clock)
    return loop.time() + max(ns, 0) / _NS


def sys_futex(
    cage: CageView, uaddr: int, op: int, val: int, timeout: int, uaddr2: int, val3: int
) -> SysResult:
    opv = i32(op)
    cmd = opv & _CMD_MASK
    addr = pointer(uaddr)
    shared = not opv & FUTEX_PRIVATE_FLAG
    if cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        bitset = u32(val3) if cmd == FUTEX_WAIT_BITSET else FUTEX_BITSET_MATCH_ANY
        if not bitset:
            raise GuestError(EINVAL)
        key = key_of(cage, addr, shared)
        deadline = _deadline(cage, opv, cmd, timeout)
        if cage.mem.read_u32(addr) != u32(val):
            raise GuestError(EAGAIN)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        return _sleep(cage, TABLE.enqueue(key, bitset, future), deadline)
    if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
        bitset = u32(val3) if cmd == FUTEX_WAKE_BITSET else FUTEX_BITSET_MATCH_ANY
        if not bitset:
            raise GuestError(EINVAL)
        return TABLE.wake(key_of(cage, addr, shared), _count(val), bitset)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        key = key_of(cage, addr, shared)
        to = key_of(cage, pointer(uaddr2), shared)
        wake_n, move_n = i32(val), i32(timeout)  # val2 travels in the timeout slot
        if wake_n < 0 or move_n < 0:
            raise GuestError(EINVAL)
        if cmd == FUTEX_CMP_REQUEUE and cage.mem.read_u32(addr) != u32(val3):
            raise GuestError(EAGAIN)
        return TABLE.requeue(key, wake_n, to, move_n)
    if cmd < 0 or cmd > 13:
        raise GuestError(EINVAL)
    raise GuestError(ENOSYS)


def _count(val: int) -> int:
    n = i32(val)
    return _INT_MAX if n < 0 else n


ROWS: list[Row] = [
    (nr.SYS_futex, sys_futex, Support.PARTIAL, "WAIT/WAKE[_BITSET], [CMP_]REQUEUE; no PI"),
]


__all__ = ["TABLE", "FutexTable", "Waiter", "key_of", "sys_futex", "wake"]
