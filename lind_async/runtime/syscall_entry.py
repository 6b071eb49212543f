"""``lind.syscall``: the sync import every guest system call enters through.

Theory of operation
-------------------
The import completes the call now, or parks it and answers ``WOULD_WAIT`` (lind-musl then
collects it with the async ``lind.syscall_wait``). A signal that became deliverable parks the
call too: the delivery may wait (a stop), and a handler is handed to the guest's libc as the
parked call's answer (``guest_signals.py``), or run on the signal instance (``signals.py``).

:func:`syscall_now` is that protocol over ``Cage.syscall`` (3i's routing, then RawPOSIX's
``dispatch`` or the grate hop), in the generic shape of ``wasm/fiber.py``'s shared trampoline.

A round trip costs a few hundred nanoseconds, so every Python frame and conversion on it
counts, and the import is served by a trampoline of its own instead (:func:`trampoline`):

- :func:`_call` is the whole call in one frame where the generic path takes five (shared
  trampoline, ``syscall_now``, ``Cage.syscall``, ``dispatch``, handler): for a cage whose 3i
  table is empty — no call routed anywhere, the common case — it calls RawPOSIX's handler
  directly, turning ``GuestError``/``OSError`` into ``-errno`` as ``dispatch`` does. A cage with
  any route (a grate's client, a grate forwarding) takes ``Cage.syscall``, so routing and
  authority are exactly the general path's: the test is on the live table, which 3i edits in
  place, so a route registered later is seen by the next call. It never raises: what a handler
  raises beyond ``GuestError``/``OSError`` is recorded on the live call (``fiber.fail``) and the
  trap is kept for the trampoline, killing only the cage, as before.
- The C trampoline (``native/syscall_entry.c``, built by zig into the cache on first use) reads
  wasmtime's raw value array and calls ``_call`` with seven ints by vectorcall; measured, it
  halves a ``getpid`` round trip against the ctypes callback.
- The C trampoline also answers ``read``/``write``/``pread64``/``pwrite64``/``lseek`` on a
  regular file or ``/dev/null`` itself when only RawPOSIX would see them and nothing but the
  host call is left to do (``native/syscall_entry.c``'s header; the records and tables it reads
  are ``rawposix/fastio.py``'s and ``core/fdtable.py``'s, written only by Python): no Python
  frame at all. Any other case, and every doubt, is :func:`_call`'s. The same library gives
  RawPOSIX's confined ``open`` a builtin doing ``openat2`` and ``fstat`` in one call
  (``confine.use_open_stat``), and answers ``open``/``openat`` of a plain regular file and
  ``close`` of a description no other descriptor names itself (``native/syscall_files.c``).
  It also answers ``rt_sigprocmask`` of a single-threaded cage with no signal pending by
  reading and writing the thread's ``SignalState.blocked`` itself (``native/syscall_signals.c``
  says when), and ``read``/``write``/``writev`` and the tty ``ioctl``s on an in-process pipe
  (``native/syscall_pipes.c``: the bytes moved in C on the pipe's own Python objects; when the
  other side's queue has waiters or watchers, :func:`_pipe_woken` wakes it and ends the call as
  :func:`_call` does), and ``set_tid_address`` of a cage's main thread
  (``native/syscall_tid.c``). ``LIND_ASYNC_FASTIO=0`` turns all of it off, ``LIND_ASYNC_FASTOPEN=0``
  only ``open`` and ``close``, ``LIND_ASYNC_FASTMASK=0`` only ``rt_sigprocmask``,
  ``LIND_ASYNC_FASTPIPE=0`` only the pipes (for measuring).
- Where it cannot be built or loaded (or ``LIND_ASYNC_PYTHON_ENTRY`` is set), a ctypes callback
  (:func:`_py_trampoline`) does the same: one ``struct`` unpack of the array through a memoryview
  cached per array address, the result into slot 0 (wrapped to 64 bits as a ctypes store
  would).
"""

from __future__ import annotations

import ctypes
import logging
import os
import struct
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lind_async.abi.errno import ENOSYS, GuestError, to_negative_errno
from lind_async.abi.guest import WOULD_WAIT
from lind_async.core.fdtable import FAST_COUNTS_ADDRESS, FdTable
from lind_async.memory import GuestMemory
from lind_async.memory.faults import FAULTED, FAULTED_ADDRESS  # a page shrank (SIGBUS pending)
from lind_async.rawposix import confine, fastio, hostfds, locks
from lind_async.rawposix import table as rawposix_table
from lind_async.rawposix.blocking import WaitQueue
from lind_async.rawposix.host_file import HostFile
from lind_async.rawposix.pipe import PipeEnd
from lind_async.rawposix.readiness import RoomWake
from lind_async.runtime import guest_signals, signals
from lind_async.wasm import capi, fiber
from lind_async.wasm.eager import first_step

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage
    from lind_async.wasm.instance import LindInstance

log = logging.getLogger("lind_async.microvisor")


def syscall_now(instance: LindInstance, args: tuple[int, ...]) -> int:
    """``lind.syscall`` (a sync import): complete the call now, or park it and say so."""
    cage: Cage = instance.data
    number = args[0]
    result = cage.syscall(number, args[1], args[2], args[3], args[4], args[5], args[6])
    if isinstance(result, int):
        if not (cage.signals.pending or cage.stopped or FAULTED[0]):
            return result
        if not _may_deliver(instance, cage):
            return result
        instance.park(_deliver(instance, cage, number, args[1:], result))
        return WOULD_WAIT
    instance.park(_then_signals(instance, cage, number, args[1:], first_step(result)))
    return WOULD_WAIT


def _may_deliver(instance: LindInstance, cage: Cage) -> bool:
    """Is a signal to deliver before this call returns? Not inside a handler (unless the guest
    left it by longjmp), and never on a grate's handler worker (``instance.serving``: the
    grate's signals and stops go to its own threads, so a stopped grate still serves)."""
    if cage.delivery.in_handler and not guest_signals.left_by_longjmp(instance, cage):
        return False
    return signals.pending_for(cage) and not instance.serving


def _deliver(
    instance: LindInstance, cage: Cage, number: int, args: tuple[int, ...], result: int
) -> Awaitable[int]:
    if guest_signals.runs_handlers(instance):
        return guest_signals.after_syscall(instance, cage, number, args, result)
    return signals.after_syscall(cage, number, args, result)


def _answer(
    instance: LindInstance, cage: Cage, number: int, args: tuple[int, ...], result: int
) -> int:
    """A finished call's answer once something was found pending (a signal, a stop, a fault):
    ``result``, or ``WOULD_WAIT`` with the delivery parked to run before the guest sees it."""
    if not _may_deliver(instance, cage):
        return result
    instance.park(_deliver(instance, cage, number, args, result))
    return WOULD_WAIT


async def _then_signals(
    instance: LindInstance, cage: Cage, number: int, args: tuple[int, ...],
    pending: Awaitable[int],
) -> int:
    result = await pending
    if not _may_deliver(instance, cage):
        return result
    return await _deliver(instance, cage, number, args, result)


# -- the import's own trampoline ---------------------------------------------------------------
_HANDLERS = rawposix_table.handlers()
_finish = rawposix_table.finish
_NAME = "lind.syscall"


def _call(number: int, a1: int, a2: int, a3: int, a4: int, a5: int, a6: int) -> int:
    """The call, for either trampoline: its result, or (never raising) ``WOULD_WAIT`` with the
    awaitable parked, or 0 with a trap kept for the trampoline (:func:`_keep_trap`)."""
    try:
        instance = fiber._current.instance  # type: ignore[union-attr]
        cage: Cage = instance.data
        routes = cage._routes
        if routes is None or routes:  # its first call, or a cage some call is routed for
            result = cage.syscall(number, a1, a2, a3, a4, a5, a6)
        else:  # rawposix.dispatch, inline
            handler = _HANDLERS.get(number)
            if handler is None:
                result = -ENOSYS
            else:
                try:
                    result = handler(cage, a1, a2, a3, a4, a5, a6)
                except (GuestError, OSError) as exc:
                    result = to_negative_errno(exc)
                if result.__class__ is not int:
                    result = _finish(result)  # type: ignore[arg-type]
        if result.__class__ is int or isinstance(result, int):
            if not (cage.signals.pending or cage.stopped or FAULTED[0]):
                return result
            return _answer(instance, cage, number, (a1, a2, a3, a4, a5, a6), result)
        instance.park(_then_signals(instance, cage, number, (a1, a2, a3, a4, a5, a6),
                                    first_step(result)))
        return WOULD_WAIT
    except BaseException as exc:
        _keep_trap(fiber.fail(exc, _NAME))
        return 0


def _pipe_woken(queue: WaitQueue, wakes: int, number: int, a1: int, a2: int, a3: int, a4: int,
                a5: int, a6: int, result: int) -> int:
    """The end of a pipe call the C trampoline served (``native/syscall_pipes.c``) after moving
    its bytes: the other side's queue woken as often as the handler would have woken it, then
    :func:`_call`'s delivery check and failure handling on ``result``."""
    try:
        for _ in range(wakes):
            queue.wake_all()
        instance = fiber._current.instance  # type: ignore[union-attr]
        cage: Cage = instance.data
        if not (cage.signals.pending or cage.stopped or FAULTED[0]):
            return result
        return _answer(instance, cage, number, (a1, a2, a3, a4, a5, a6), result)
    except BaseException as exc:
        _keep_trap(fiber.fail(exc, _NAME))
        return 0


# The pure-Python trampoline: the seven arguments in one ``struct`` unpack of wasmtime's raw
# value array, through a memoryview cached per array address (the array sits at the same few
# addresses of the fiber stacks call after call); the result into slot 0 of the same array.
_ARGS = struct.Struct("<i12x" + "q8x" * 6)
_unpack = _ARGS.unpack_from
_RAW = ctypes.c_int64 * (2 * 7)
_views: dict[int, memoryview] = {}
_kept = [0]  # the trap _call kept for the Python trampoline


def _keep_in_python(trap: int) -> None:
    _kept[0] = trap


_keep_trap = _keep_in_python


def _view(addr: int) -> memoryview:
    if len(_views) >= 256:  # fiber stacks come and go; a view is only a typed address
        _views.clear()
    view = _views[addr] = memoryview(_RAW.from_address(addr)).cast("B").cast("q")
    return view


def _py_trampoline(env: int | None, caller: int | None, vals: int | None, nargs: int) -> int:
    # Must never raise (it runs under wasmtime's C frame): a failure is a trap pointer.
    try:
        view = _views.get(vals)  # type: ignore[arg-type]
        if view is None:
            view = _view(vals or 0)
        result = _call(*_unpack(view))
        try:
            view[0] = result
        except (OverflowError, ValueError):  # wrapped to 64 bits, as a ctypes store does
            view[0] = ((result + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)
    except BaseException as exc:
        return fiber.fail(exc, _NAME)
    trap = _kept[0]
    if trap:
        _kept[0] = 0
    return trap


def _native_trampoline(cache_dir: Path) -> Any:
    """The C trampoline (``native/syscall_entry.c``, its library under ``cache_dir``) wired to
    :func:`_call`, or None when it cannot be built or loaded here (or
    ``LIND_ASYNC_PYTHON_ENTRY`` is set): then the Python one serves."""
    global _keep_trap
    if os.environ.get("LIND_ASYNC_PYTHON_ENTRY"):
        return None
    try:
        from lind_async.toolchain.native import syscall_entry_library

        path = str(syscall_entry_library(cache_dir))
        lib = ctypes.CDLL(path)
        init = lib.lind_entry_init
        init.argtypes = (ctypes.py_object, ctypes.c_void_p)
        init.restype = None
        kept = ctypes.c_void_p.in_dll(lib, "lind_entry_trap")
        trampoline = ctypes.cast(lib.lind_syscall_trampoline, capi.UNCHECKED_CALLBACK)
    except Exception as exc:  # no zig, no compiler output, no loader: Python's serves
        log.info("lind.syscall: the native trampoline is unavailable (%s); using Python's", exc)
        return None
    init(_call, ctypes.cast(capi.lib.wasmtime_trap_new, ctypes.c_void_p).value)
    if os.environ.get("LIND_ASYNC_FASTIO", "1") != "0":
        fast_init = lib.lind_fastio_init
        fast_init.argtypes = (ctypes.py_object, ctypes.py_object, ctypes.c_void_p,
                              ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p)
        fast_init.restype = ctypes.c_int
        fast_on = fast_init(vars(fiber), GuestMemory, fastio.ADDRESS, fastio.RECORDS,
                            FAULTED_ADDRESS, FAST_COUNTS_ADDRESS) == 0
        if not fast_on:
            log.info("lind.syscall: the trampoline's file fast path is off")
        elif fastio.give_slot_offsets(ctypes.PyDLL(path), (fiber._Call, FdTable, GuestMemory,
                                                            HostFile, confine.HostRoot)) != 0:
            log.info("lind.syscall: the trampoline reads every attribute by getattr")
        if os.environ.get("LIND_ASYNC_FASTOPEN", "1") != "0" and fast_on:
            file_init = lib.lind_fastfile_init
            file_init.argtypes = (ctypes.py_object,) * 6
            file_init.restype = ctypes.c_int
            if file_init(HostFile, FdTable, locks._posix_holders, locks._lockers, fastio.FREE,
                         vars(hostfds)) != 0:
                log.info("lind.syscall: the trampoline's open and close are off")
        if os.environ.get("LIND_ASYNC_FASTPIPE", "1") != "0" and fast_on:
            pipe_init = ctypes.PyDLL(path).lind_fastpipe_init  # (PyDLL: called with the GIL)
            pipe_init.argtypes = (ctypes.py_object,) * 3
            pipe_init.restype = ctypes.c_int
            if pipe_init(PipeEnd, _pipe_woken, RoomWake) != 0:
                log.info("lind.syscall: the trampoline's pipe calls are off")
        if os.environ.get("LIND_ASYNC_FASTMASK", "1") == "0":
            ctypes.c_int.in_dll(lib, "lind_fastmask_on").value = 0
        make = ctypes.PyDLL(path).lind_open_stat_function  # (PyDLL: called with the GIL)
        make.argtypes = ()
        make.restype = ctypes.py_object
        try:
            confine.use_open_stat(make())
        except Exception as exc:  # (never expected: the builtin is a static definition)
            log.info("lind.syscall: no compiled open_stat (%s)", exc)

    def keep_in_c(trap: int) -> None:
        kept.value = trap or None

    _keep_trap = keep_in_c
    return (lib, trampoline)  # the library stays loaded as long as its pointer is kept


_chosen: list[Any] = []  # (library or None, trampoline), once chosen


def trampoline(cache_dir: Path) -> Any:
    """The callback serving ``lind.syscall``, chosen on the first call for the process: C's
    (built into ``cache_dir``) when available, else Python's. Alive for the process."""
    if not _chosen:
        native = _native_trampoline(cache_dir)
        _chosen.append(native if native is not None else
                       (None, capi.UNCHECKED_CALLBACK(_py_trampoline)))
    return _chosen[0][1]


def fast_calls() -> int:
    """How many calls the C trampoline answered without Python so far (0 without it)."""
    if not _chosen or _chosen[0][0] is None:
        return 0
    return int(ctypes.c_uint64.in_dll(_chosen[0][0], "lind_fastio_served").value)


def fast_opens_closes() -> tuple[int, int]:
    """How many ``open``/``openat`` and ``close`` calls the C trampoline answered so far."""
    if not _chosen or _chosen[0][0] is None:
        return 0, 0
    lib = _chosen[0][0]
    return (int(ctypes.c_uint64.in_dll(lib, "lind_fastopen_served").value),
            int(ctypes.c_uint64.in_dll(lib, "lind_fastclose_served").value))


def fast_masks() -> int:
    """How many ``rt_sigprocmask`` calls the C trampoline answered so far
    (``native/syscall_signals.c``)."""
    if not _chosen or _chosen[0][0] is None:
        return 0
    return int(ctypes.c_uint64.in_dll(_chosen[0][0], "lind_fastmask_served").value)


def fast_pipes() -> int:
    """How many pipe calls the C trampoline answered so far (``native/syscall_pipes.c``)."""
    if not _chosen or _chosen[0][0] is None:
        return 0
    return int(ctypes.c_uint64.in_dll(_chosen[0][0], "lind_fastpipe_served").value)


def fast_pipe_wakes() -> int:
    """Of :func:`fast_pipes`, how many needed :func:`_pipe_woken` to wake the other side."""
    if not _chosen or _chosen[0][0] is None:
        return 0
    return int(ctypes.c_uint64.in_dll(_chosen[0][0], "lind_fastpipe_woken").value)


def fast_tids() -> int:
    """How many ``set_tid_address`` calls the C trampoline answered so far
    (``native/syscall_tid.c``)."""
    if not _chosen or _chosen[0][0] is None:
        return 0
    return int(ctypes.c_uint64.in_dll(_chosen[0][0], "lind_fasttid_served").value)


def native() -> bool:
    """Whether ``lind.syscall`` is served by the C trampoline (after :func:`trampoline`)."""
    return bool(_chosen) and _chosen[0][0] is not None
