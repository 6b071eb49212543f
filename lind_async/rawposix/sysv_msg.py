"""RawPOSIX System V message queues: msgget, msgsnd, msgrcv, msgctl.

Theory of operation
-------------------
The queues and which message ``msgrcv`` takes are core/ipc_msg.py; this module decodes the
arguments (a message is ``long mtype`` — 32 bits on wasm32 — followed by its text), checks them in
Linux's order and waits. A sender finding the queue full, or a receiver finding no matching
message, parks only the calling cage (``IPC_NOWAIT``: ``EAGAIN`` / ``ENOMSG``) and looks again
after every change of the queue; ``IPC_RMID`` ends the wait with ``EIDRM``, a signal with
``EINTR`` (never restarted, as Linux). ``MSG_COPY`` is not supported (``ENOSYS``, as a kernel
built without checkpoint/restore).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EIDRM, EINVAL, ENOMSG, ENOSYS, EPERM, GuestError
from lind_async.abi.layouts import MSGBUF_MTYPE, MSQID_DS
from lind_async.core.ipc import IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT
from lind_async.core.ipc_msg import MSG_COPY, MSGMAX, MSGMNB, MsgQueue
from lind_async.rawposix import sysv_ipc as ipc
from lind_async.rawposix.args import i32, pointer, size
from lind_async.rawposix.blocking import block, on_queue
from lind_async.rawposix.table import Row, Support, SysResult

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

_MTYPE = struct.Struct(MSGBUF_MTYPE.fmt)


def sys_msgget(cage: CageView, key: int, flags: int, *_: int) -> int:
    uid, gid = ipc.credentials()
    return ipc.namespace(cage).msg_get(i32(key), i32(flags), uid=uid, gid=gid,
                                       now=ipc.now()).ident


def sys_msgsnd(cage: CageView, msqid: int, msgp: int, msgsz: int, flags: int, *_: int) -> SysResult:
    ident, addr, n, how = i32(msqid), pointer(msgp), size(msgsz), i32(flags)
    if n > MSGMAX or ident < 0:
        raise GuestError(EINVAL)
    (mtype,) = cage.mem.unpack(_MTYPE, addr)
    if mtype < 1:
        raise GuestError(EINVAL)
    text = cage.mem.read(addr + _MTYPE.size, n)
    q = ipc.namespace(cage).msg.lookup(ident)
    uid, gid = ipc.credentials()
    q.perm.check(uid, gid, 0o222)
    if q.send(mtype, text, cage.cage_id, ipc.now()):
        ipc.changed(q)
        return 0
    return block(lambda: _send_again(cage, q, mtype, text), on_queue(cage, ipc.queue(q)),
                 nonblocking=bool(how & IPC_NOWAIT))


def _send_again(cage: CageView, q: MsgQueue, mtype: int, text: bytes) -> int | None:
    if q.removed:
        raise GuestError(EIDRM)
    if q.send(mtype, text, cage.cage_id, ipc.now()):
        ipc.changed(q)
        return 0
    return None


def sys_msgrcv(cage: CageView, msqid: int, msgp: int, msgsz: int, msgtyp: int, flags: int, *_: int
               ) -> SysResult:
    ident, addr, room, typ, how = i32(msqid), pointer(msgp), size(msgsz), i32(msgtyp), i32(flags)
    if ident < 0 or room > 0x7FFFFFFF:
        raise GuestError(EINVAL)
    if how & MSG_COPY:
        raise GuestError(ENOSYS)
    q = ipc.namespace(cage).msg.lookup(ident)
    uid, gid = ipc.credentials()
    q.perm.check(uid, gid, 0o444)
    got = q.receive(typ, room, how, cage.cage_id, ipc.now())
    if got is not None:
        return _deliver(cage, q, addr, got)
    if how & IPC_NOWAIT:
        raise GuestError(ENOMSG)  # (not block's EAGAIN)
    return block(lambda: _receive_again(cage, q, addr, typ, room, how),
                 on_queue(cage, ipc.queue(q)))


def _receive_again(cage: CageView, q: MsgQueue, addr: int, typ: int, room: int, how: int
                   ) -> int | None:
    if q.removed:
        raise GuestError(EIDRM)
    got = q.receive(typ, room, how, cage.cage_id, ipc.now())
    return None if got is None else _deliver(cage, q, addr, got)


def _deliver(cage: CageView, q: MsgQueue, addr: int, got: tuple[int, bytes]) -> int:
    """Write a taken message into the caller's buffer; senders may find room now."""
    ipc.changed(q)
    mtype, text = got
    cage.mem.write(addr, _MTYPE.pack(mtype) + text)
    return len(text)


def sys_msgctl(cage: CageView, msqid: int, cmd: int, buf: int, *_: int) -> int:
    what = ipc.command(i32(cmd))
    uid, gid = ipc.credentials()
    if what == IPC_SET:
        wanted = ipc.read_set(cage.mem, pointer(buf), MSQID_DS, "msg_perm")
    q = ipc.namespace(cage).msg.lookup(i32(msqid))
    if what == IPC_STAT:
        q.perm.check(uid, gid, 0o444)
        cage.mem.write(pointer(buf), MSQID_DS.pack(
            **ipc.perm_fields("msg_perm", q.perm, q.perm.mode), msg_stime=q.stime,
            msg_rtime=q.rtime, msg_ctime=q.ctime, msg_cbytes=q.cbytes,
            msg_qnum=len(q.messages), msg_qbytes=q.qbytes, msg_lspid=q.lspid,
            msg_lrpid=q.lrpid))
        return 0
    if what == IPC_SET:
        q.perm.check_owner(uid)
        if wanted["msg_qbytes"] > MSGMNB and uid != 0:
            raise GuestError(EPERM)  # raising the limit needs CAP_SYS_RESOURCE
        q.perm.set(wanted["uid"], wanted["gid"], wanted["mode"])
        q.qbytes = wanted["msg_qbytes"]
        q.ctime = ipc.now()
        ipc.changed(q)  # senders may fit now
        return 0
    if what == IPC_RMID:
        q.perm.check_owner(uid)
        ipc.namespace(cage).msg.drop(q)
        ipc.changed(q)  # waiters: EIDRM
        return 0
    raise GuestError(EINVAL)  # IPC_INFO, MSG_INFO, MSG_STAT[_ANY]: not kept


ROWS: list[Row] = [
    (nr.SYS_msgget, sys_msgget, Support.FULL, "per world (microvisor)"),
    (nr.SYS_msgsnd, sys_msgsnd, Support.FULL, "IPC_NOWAIT; blocks only the caller"),
    (nr.SYS_msgrcv, sys_msgrcv, Support.PARTIAL, "MSG_EXCEPT, MSG_NOERROR; no MSG_COPY"),
    (nr.SYS_msgctl, sys_msgctl, Support.PARTIAL, "no IPC_INFO/MSG_INFO/MSG_STAT"),
]
