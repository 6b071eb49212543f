"""System V semaphore sets (``semget``/``semop``/``semctl``): the pure part.

Theory of operation
-------------------
A :class:`SemSet` holds ``nsems`` values (0 … ``SEMVMX``) with the pid of the last process that
changed each. :meth:`SemSet.apply` performs one ``semop`` *all or nothing*, in order (several
operations on one semaphore accumulate): an operation ``> 0`` adds, ``< 0`` subtracts if the
result stays ``>= 0``, ``0`` waits for zero. When one cannot proceed nothing changes and the
caller learns which semaphore it waits for and how (``(num, for_zero)``); with ``IPC_NOWAIT`` on
that operation it is ``EAGAIN`` instead. A value past ``SEMVMX``, or an undo adjustment past
``SEMAEM``, is ``ERANGE``. The glue (rawposix/sysv_sem.py) parks a waiting caller, counts it in
``semncnt``/``semzcnt`` (:meth:`SemSet.wait`), and retries after every change of the set.

``SEM_UNDO``: each process has, per set, one adjustment per semaphore (``adj[pid]``) that
undoes its operations: ``apply`` subtracts each ``SEM_UNDO`` operation from it; at exit
(:meth:`SemSet.exit_undo`) the adjustments are added back, clamped to ``[0, SEMVMX]`` as Linux
does. ``SETVAL`` clears that semaphore's adjustments in every process, ``SETALL`` all of them; a
fork child starts with none (they are keyed by pid), exec keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lind_async.abi.errno import EAGAIN, EINVAL, ERANGE, GuestError
from lind_async.core.ipc import IPC_NOWAIT, IpcObject

SEMMSL = 32000  # semaphores per set
SEMOPM = 500  # operations per semop
SEMVMX = 32767  # largest value
SEMAEM = SEMVMX  # largest undo adjustment
SEM_UNDO = 0x1000
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL = 11, 12, 13, 14, 15, 16, 17

SemOp = tuple[int, int, int]  # (sem_num, sem_op, sem_flg): struct sembuf


@dataclass(slots=True, eq=False)
class SemSet(IpcObject):
    values: list[int] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    ncnt: list[int] = field(default_factory=list)  # callers waiting for a value to grow
    zcnt: list[int] = field(default_factory=list)  # callers waiting for zero
    otime: int = 0
    adj: dict[int, list[int]] = field(default_factory=dict)  # pid -> SEM_UNDO adjustments

    @property
    def nsems(self) -> int:
        return len(self.values)

    def apply(self, ops: Sequence[SemOp], pid: int, now: int) -> tuple[int, bool] | None:
        """Perform ``ops`` atomically: None when done, else the ``(num, for_zero)`` to wait on."""
        values = list(self.values)
        adj = list(self.adj.get(pid) or [0] * self.nsems)
        for num, op, flags in ops:
            value = values[num]
            blocked = (op == 0 and value != 0) or value + op < 0
            if blocked:
                if flags & IPC_NOWAIT:
                    raise GuestError(EAGAIN)
                return num, op == 0
            if value + op > SEMVMX:
                raise GuestError(ERANGE)
            if flags & SEM_UNDO:
                if not -SEMAEM - 1 <= adj[num] - op <= SEMAEM:
                    raise GuestError(ERANGE)
                adj[num] -= op
            values[num] = value + op
        self.values = values
        for num, _, _ in ops:
            self.pids[num] = pid
        if any(adj):
            self.adj[pid] = adj
        else:
            self.adj.pop(pid, None)
        self.otime = now
        return None

    def wait(self, num: int, for_zero: bool, delta: int) -> None:
        """A caller starts (``+1``) or stops (``-1``) waiting on semaphore ``num``."""
        counts = self.zcnt if for_zero else self.ncnt
        counts[num] += delta

    def set_value(self, num: int, value: int, pid: int, now: int) -> None:
        """``SETVAL``."""
        if not 0 <= value <= SEMVMX:
            raise GuestError(ERANGE)
        self.values[num] = value
        self.pids[num] = pid
        for adj in self.adj.values():
            adj[num] = 0
        self.ctime = now

    def set_all(self, values: Sequence[int], pid: int, now: int) -> None:
        """``SETALL``."""
        if len(values) != self.nsems:
            raise GuestError(EINVAL)
        if any(not 0 <= v <= SEMVMX for v in values):
            raise GuestError(ERANGE)
        self.values = list(values)
        self.pids = [pid] * self.nsems
        self.adj.clear()
        self.ctime = now

    def exit_undo(self, pid: int) -> bool:
        """Process ``pid`` ended: add back its adjustments; True when a value changed."""
        adj = self.adj.pop(pid, None)
        if adj is None:
            return False
        for num, delta in enumerate(adj):
            if delta:
                self.values[num] = min(max(self.values[num] + delta, 0), SEMVMX)
                self.pids[num] = pid
        return True
