"""3i's own operations as system calls (1001-1003), so grates can interpose on them (DESIGN §4).

lind-musl's ``<lind_syscall.h>`` issues them through the ordinary ``lind.syscall`` path:

- ``register_handler(targetcage, callnum, handler_cage, fn_ptr)`` (1001): route ``callnum`` of
  ``targetcage`` to ``fn_ptr`` in ``handler_cage``; ``fn_ptr == 0`` deregisters (back to RawPOSIX);
- ``copy_data_between_cages(targetcage, src, dst, srccage << 32 | dstcage, len, copytype)``
  (1002; the two cage ids share a slot so the call fits six arguments): ``copytype`` 0 copies
  exactly ``len`` bytes, 1 copies a string up to its NUL (included) or ``len`` bytes, and stops
  without faulting at the end of readable memory;
- ``copy_handler_table_to_cage(srccage, targetcage)`` (1003).

The acting cage is the one the call is made *as* (the caller, or the target of a forwarded call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lind_async.abi.errno import EFAULT, EINVAL, EPERM, ESRCH, GuestError
from lind_async.core.threei import RoutingError
from lind_async.rawposix.args import i32, u64
from lind_async.runtime.threei_calls import has_authority, require_authority

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage

MAX_COPY = 64 << 20  # per-call copy budget
_LOW = 0xFFFFFFFF


def sys_register_handler(
    cage: Cage, target: int, callnum: int, grate: int, fn: int, *_: int
) -> int:
    mv = cage.microvisor
    me, target_id, handler_cage = cage.cage_id, i32(target), i32(grate)
    number = i32(callnum)
    require_authority(mv, me, target_id)
    if not mv.threei.has_cage(target_id):
        raise GuestError(ESRCH)
    try:
        if u64(fn) == 0:
            mv.threei.deregister(target_id, number)
            return 0
        allowed = (
            handler_cage == me
            or mv.procs.is_ancestor(handler_cage, me)
            or has_authority(mv, me, handler_cage)
        )
        if not allowed:
            raise GuestError(EPERM)
        mv.threei.register(target_id, number, handler_cage, u64(fn))
    except RoutingError:
        raise GuestError(EINVAL) from None
    return 0


def sys_copy_data_between_cages(
    cage: Cage, target: int, src: int, dst: int, cages: int, length: int, copytype: int
) -> int:
    mv = cage.microvisor
    me = cage.cage_id
    src_cage_id, dst_cage_id = (u64(cages) >> 32) & _LOW, u64(cages) & _LOW
    n, kind = u64(length), i32(copytype)
    if kind not in (0, 1) or n > MAX_COPY:
        raise GuestError(EINVAL)
    for other in (i32(target), src_cage_id, dst_cage_id):
        if other:
            require_authority(mv, me, other)
    source, dest = mv.cages.get(src_cage_id), mv.cages.get(dst_cage_id)
    if source is None or dest is None or source.status is not None or dest.status is not None:
        raise GuestError(ESRCH)
    src_addr, dst_addr = u64(src) & _LOW, u64(dst) & _LOW
    if u64(src) > _LOW or u64(dst) > _LOW:
        raise GuestError(EFAULT)
    if kind == 0:
        dest.mem.write(dst_addr, source.mem.slice(src_addr, n))
        return 0
    readable = max(0, min(n, source.mem.size - src_addr))
    chunk = source.mem.read(src_addr, readable) if readable else b""
    nul = chunk.find(0)
    data = chunk[: nul + 1] if nul >= 0 else chunk
    if not data and n:
        raise GuestError(EFAULT)
    dest.mem.write(dst_addr, data)
    return 0


def sys_copy_handler_table_to_cage(cage: Cage, src: int, target: int, *_: int) -> int:
    mv = cage.microvisor
    src_id, target_id = i32(src), i32(target)
    require_authority(mv, cage.cage_id, src_id)
    require_authority(mv, cage.cage_id, target_id)
    try:
        mv.threei.copy_table(src_id, target_id)
    except RoutingError:
        raise GuestError(ESRCH) from None
    return 0
