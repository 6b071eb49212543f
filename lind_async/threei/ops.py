"""3i's own operations as system calls (1001-1003), so grates can interpose on them.

lind-musl's ``<lind_syscall.h>`` issues them through the ordinary ``lind.syscall`` path:

- ``register_handler(targetcage, callnum, handler_cage, fn_ptr)`` (1001): route ``callnum`` of
  ``targetcage`` to ``fn_ptr`` in ``handler_cage``; ``fn_ptr == 0`` deregisters (back to RawPOSIX);
- ``copy_data_between_cages(targetcage, src, dst, srccage << 32 | dstcage, len, copytype)``
  (1002; the two cage ids share a slot so the call fits six arguments): ``copytype`` 0 copies
  exactly ``len`` bytes, 1 copies a string up to its NUL (included) or ``len`` bytes, and stops
  without faulting at the end of readable memory;
- ``copy_handler_table_to_cage(srccage, targetcage)`` (1003).

The acting cage is the one the call is made *as* (the caller, or the target of a forwarded call).
They need 3i's tables, so they live above RawPOSIX and add their rows to its table
(:func:`install`, which the microvisor calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EFAULT, EINVAL, ESRCH, GuestError
from lind_async.rawposix import table
from lind_async.rawposix.args import i32, u64
from lind_async.threei.tables import Route, RoutingError, check_callnum

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage

MAX_COPY = 64 << 20  # per-call copy budget
_LOW = 0xFFFFFFFF


def sys_register_handler(
    cage: Cage, target: int, callnum: int, grate: int, fn: int, *_: int
) -> int:
    return register_handler(cage, cage.cage_id, target, callnum, grate, fn)


def register_handler(
    cage: Cage, forwarder: int, target: int, callnum: int, grate: int, fn: int
) -> int:
    """``register_handler`` made as ``cage`` (the caller, or the cage a grate forwards it for:
    ``forwarder``). Every check is ``threei/authority.py``'s: ``cage`` names the target and
    changes the route (rules 1 and 4: forwarding lends no authority over routes); the handler's
    functions may be named by ``cage`` or by the grate that forwarded the call (rule 3: a grate
    interposing on 1001 may point a registration at itself). A handler id the grate's default
    entry could not call is ``EINVAL`` now, not the grate's crash later."""
    mv = cage.microvisor
    authority = mv.authority
    me, target_id, handler_cage, number = cage.cage_id, i32(target), i32(grate), i32(callnum)
    authority.require_name(me, target_id)
    if not mv.threei.has_cage(target_id):
        raise GuestError(ESRCH)
    try:
        check_callnum(number)
    except RoutingError:
        raise GuestError(EINVAL) from None
    handler = u64(fn)
    if handler == 0:
        authority.require_route_change(me, target_id, number, None)
        mv.threei.deregister(target_id, number)
        return 0
    if not mv.threei.has_cage(handler_cage):
        raise GuestError(ESRCH)
    namer = me if authority.speaks_for(me, handler_cage) else forwarder
    authority.require_handler(namer, handler_cage)
    owner = authority.route_owner(namer)
    authority.require_route_change(me, target_id, number, Route(handler_cage, handler, owner))
    _check_handler_id(cage, handler_cage, handler)
    mv.threei.register(target_id, number, handler_cage, handler, owner)
    return 0


def _check_handler_id(cage: Cage, handler_cage: int, handler: int) -> None:
    """A wasm grate must be able to run ``handler``: its program exports the grate entry point,
    and with lind-musl's default entry ``handler`` is a function-table slot of the handler
    type. Python grates dispatch their ids themselves."""
    mv = cage.microvisor
    if handler_cage not in mv.python_grates and not mv.valid_handler(handler_cage, handler):
        raise GuestError(EINVAL)


def sys_copy_data_between_cages(
    cage: Cage, target: int, src: int, dst: int, cages: int, length: int, copytype: int
) -> int:
    mv = cage.microvisor
    me = cage.cage_id
    src_cage_id, dst_cage_id = (u64(cages) >> 32) & _LOW, u64(cages) & _LOW
    n, kind = u64(length), i32(copytype)
    if kind not in (0, 1) or n > MAX_COPY:
        raise GuestError(EINVAL)
    source, dest = mv.cages.get(src_cage_id), mv.cages.get(dst_cage_id)
    if source is None or dest is None or source.status is not None or dest.status is not None:
        raise GuestError(ESRCH)  # as kill: a cage that does not exist is ESRCH for anyone
    for other in (i32(target), src_cage_id, dst_cage_id):
        if other:
            mv.authority.require_name(me, other)
    if u64(src) > _LOW or u64(dst) > _LOW:
        raise GuestError(EFAULT)
    src_addr, dst_addr = u64(src), u64(dst)
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
    if not (mv.threei.has_cage(src_id) and mv.threei.has_cage(target_id)):
        mv.authority.require_name(cage.cage_id, src_id)
        mv.authority.require_name(cage.cage_id, target_id)
        raise GuestError(ESRCH)
    mv.authority.require_table_copy(cage.cage_id, src_id, target_id)
    mv.threei.copy_table(src_id, target_id)
    return 0


_full = table.Support.FULL
ROWS: list[table.ExtensionRow] = [
    (nr.SYS_register_handler, sys_register_handler, _full, "fn_ptr 0: deregister"),
    (nr.SYS_copy_data_between_cages, sys_copy_data_between_cages, _full, ""),
    (nr.SYS_copy_handler_table_to_cage, sys_copy_handler_table_to_cage, _full, ""),
]
_installed: list[bool] = []


def install() -> None:
    """Add these rows to RawPOSIX's table (once)."""
    if not _installed:
        table.extend(ROWS)
        _installed.append(True)
