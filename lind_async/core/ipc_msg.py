"""System V message queues (``msgget``/``msgsnd``/``msgrcv``/``msgctl``): the pure part.

Theory of operation
-------------------
A :class:`MsgQueue` holds ``(type, text)`` messages in arrival order and two limits: at most
``qbytes`` bytes of text, and (as Linux counts it) at most ``qbytes`` messages. :meth:`send`
appends when the message fits and answers False when the sender must wait (or fail with
``EAGAIN`` under ``IPC_NOWAIT``: the glue decides). :meth:`receive` takes the message
``msgtyp`` selects — 0: the first; > 0: the first of that type (with ``MSG_EXCEPT``, the first of
any other type); < 0: the first of the lowest type ``<= -msgtyp`` — or answers None when there
is none (the glue waits, or fails with ``ENOMSG``). A selected message longer than the caller's
buffer is ``E2BIG`` and stays queued, unless ``MSG_NOERROR`` truncates it. Both record the
pid and time of the last send and receive.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from lind_async.abi.errno import E2BIG, GuestError
from lind_async.core.ipc import IpcObject

MSGMAX = 8192  # largest message
MSGMNB = 16384  # default queue size in bytes
MSG_NOERROR = 0o10000
MSG_EXCEPT = 0o20000
MSG_COPY = 0o40000


@dataclass(slots=True, eq=False)
class MsgQueue(IpcObject):
    messages: deque[tuple[int, bytes]] = field(default_factory=deque)
    qbytes: int = MSGMNB
    cbytes: int = 0
    stime: int = 0
    rtime: int = 0
    lspid: int = 0
    lrpid: int = 0

    def send(self, mtype: int, text: bytes, pid: int, now: int) -> bool:
        """Queue one message if it fits (False: the sender must wait)."""
        if self.cbytes + len(text) > self.qbytes or len(self.messages) + 1 > self.qbytes:
            return False
        self.messages.append((mtype, text))
        self.cbytes += len(text)
        self.lspid, self.stime = pid, now
        return True

    def _select(self, msgtyp: int, flags: int) -> int | None:
        best: int | None = None
        for i, (mtype, _) in enumerate(self.messages):
            if msgtyp == 0:
                return i
            if msgtyp > 0:
                if (mtype != msgtyp) if flags & MSG_EXCEPT else (mtype == msgtyp):
                    return i
            elif mtype <= -msgtyp and (best is None or mtype < self.messages[best][0]):
                best = i
        return best

    def receive(self, msgtyp: int, room: int, flags: int, pid: int, now: int
                ) -> tuple[int, bytes] | None:
        """Take the message ``msgtyp`` selects (None: there is none yet)."""
        i = self._select(msgtyp, flags)
        if i is None:
            return None
        mtype, text = self.messages[i]
        if len(text) > room:
            if not flags & MSG_NOERROR:
                raise GuestError(E2BIG)
            text = text[:room]
        full = self.messages[i][1]
        del self.messages[i]
        self.cbytes -= len(full)
        self.lrpid, self.rtime = pid, now
        return mtype, text
