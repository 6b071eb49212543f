"""Worker pools that run a wasm grate's registered handlers.

Theory of operation
-------------------
A grate serves many cages at once. Each invocation of a handler runs on a *worker*: a Store +
Instance of the grate's module over the grate's shared memory, with its own shadow stack (a
region mapped in the grate's vmmap) — the wasi-threads model the cage's own threads use. The
invocation calls the grate's ``pass_fptr_to_wt(fn_ptr, originating cage, a1, a1c, … a6, a6c)``
export on the worker's own fiber, so a handler blocked in a system call suspends only that
invocation and the pool hands the next call to another worker. Pools grow on demand up to
:data:`MAX_WORKERS`; callers beyond that wait for a worker.

The fast path costs no task and no loop turn: with an idle worker at hand, the invocation is
started and polled once *inline*, from the caller's own ``lind.syscall`` host call
(:class:`PreparedCall`: a nested poll of the worker's store from the caller's fiber). A
handler that returns without waiting — the common case — hands its result straight back to the
caller's sync import. Only a handler that must wait (or is preempted) continues in a task of its
own, as every invocation without an idle worker does.

A worker serves other cages' calls, so it takes none of the grate's signals or stops (they are
delivered to the grate's own threads): a grate stopped by its creator keeps serving, and a
stopped grate cannot hang its clients. A worker still yields at every preemption tick.

A worker task belongs to the grate cage (it is in ``grate.tasks``): if the grate dies, its
workers are cancelled and every call waiting on them fails with ``EIO`` — nothing hangs. A handler
that traps is the grate's crash (as a trap in any thread ends a cage): the grate dies with the
trap's signal and the call that trapped gets ``EIO``; ``exit_group`` in a handler ends the grate. A
caller that is itself cancelled (killed) leaves the handler to finish: a grate's state is never
torn mid-handler.

Each worker is a thread as far as the grate's libc is concerned: before its first invocation
the pool calls the grate's export ``__lind_grate_worker_init(tid)`` (lind-musl
``src/lind/grate_worker.c``, linked by ``cc --grate``) on it, which gives the worker its own TLS
block and ``struct pthread`` with a fresh thread id — so ``errno``, stdio lock ownership and
pthread keys are per worker — and switches libc to its locking mode, as a first
``pthread_create`` does. (A module without that export — built without ``--grate`` — runs on the
main thread's TLS block, shared by every worker.) The entry point may return an ``int`` (Lind's
``int pass_fptr_to_wt``) or an ``int64_t``: i32 results arrive sign-extended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lind_async.abi.errno import EIO, GuestError, to_negative_errno
from lind_async.rawposix.kernel import CageExit
from lind_async.wasm.eager import eager_task
from lind_async.wasm.fiber import WasmTrap, run_call, trap_signal
from lind_async.wasm.instance import LindInstance, instantiate, module_spec
from lind_async.wasm.prepared_call import PreparedCall

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.cage import Cage
    from lind_async.runtime.world import World

ENTRY = "pass_fptr_to_wt"
WORKER_INIT = "__lind_grate_worker_init"
WORKER_STACK = 256 * 1024
MAX_WORKERS = 64
_PROT_RW = 3
log = logging.getLogger("lind_async.wasm_grates")


@dataclass(slots=True)
class _Worker:
    instance: LindInstance
    stack_top: int
    entry: PreparedCall


@dataclass
class _Pool:
    """The workers of one program image of a grate (``main``: the instance they were made
    from). An ``execve`` of the grate replaces its instance, and with it the pool: workers
    of the old program never serve calls routed to the new one."""

    main: LindInstance
    serves: bool  # the program exports the grate entry point
    slots: frozenset[int] | None  # valid handler ids, when the entry takes table indices
    idle: list[_Worker] = field(default_factory=list)
    count: int = 0
    freed: asyncio.Event = field(default_factory=asyncio.Event)  # set when one is released
    waiting: int = 0  # callers waiting for ``freed``


def _pool(mv: World, grate: Cage, main: LindInstance) -> _Pool:
    """The grate's pool for its current program (a new one after an exec)."""
    pool: _Pool | None = grate.grate_workers
    if pool is not None and pool.main is main:
        return pool
    if pool is not None:
        for worker in pool.idle:
            worker.instance.close()
        pool.idle.clear()
    serves = ENTRY in main.spec.funcs
    pool = grate.grate_workers = _Pool(main, serves, mv.engine.handler_slots(grate.module))
    return pool


def valid_handler(mv: World, grate: Cage, fn_ptr: int) -> bool:
    """Could ``grate``'s program run handler ``fn_ptr`` (it exports the entry point, and the
    id is a handler slot when its entry takes function-table indices)? A grate that has not
    started yet is judged by its module."""
    main = grate.instance
    if main is None:
        if ENTRY not in module_spec(grate.module).funcs:
            return False
        slots = mv.engine.handler_slots(grate.module)
        return slots is None or fn_ptr in slots
    pool = _pool(mv, grate, main)
    return pool.serves and (pool.slots is None or fn_ptr in pool.slots)


async def _worker(mv: World, grate: Cage, pool: _Pool) -> _Worker | None:
    """An idle worker of ``pool``, or a new one; None once the grate no longer runs the
    program the pool belongs to (it exec'd or ended while this call waited)."""
    while not pool.idle and pool.count >= MAX_WORKERS:
        pool.freed.clear()
        pool.waiting += 1
        try:
            await pool.freed.wait()
        finally:
            pool.waiting -= 1
    main = grate.instance
    if main is not pool.main or grate.status is not None:
        return None
    if pool.idle:
        return pool.idle.pop()
    pool.count += 1
    try:
        instance = await instantiate(mv.engine, grate.module, mv.imports, memory=main.memory)
    except BaseException:
        pool.count -= 1
        raise
    instance.data = grate
    instance.serving = True  # no preemption hook: the grate's signals and stops are not its
    if grate.tls_base is not None:
        instance.set_global("__tls_base", grate.tls_base)
    try:
        base = grate.vm.map_anywhere(WORKER_STACK, _PROT_RW)
    except GuestError:  # the grate's address space is full: no stack for another worker
        pool.count -= 1
        instance.close()
        raise
    worker = _Worker(instance, base + WORKER_STACK, PreparedCall(instance, ENTRY))
    instance.set_global("__stack_pointer", worker.stack_top)
    if WORKER_INIT in instance.spec.funcs:
        try:
            (status,) = await run_call(instance, WORKER_INIT, [mv.new_id()])
        except BaseException:
            pool.count -= 1
            instance.close()
            raise
        if status < 0:
            pool.count -= 1
            instance.close()
            raise OSError(-status, "grate worker set-up failed")
    return worker


def _params(fn_ptr: int, origin: int, args: tuple[int, ...], owners: tuple[int, ...]) -> list[int]:
    params = [fn_ptr, origin]
    for value, owner in zip(args, owners, strict=True):
        params += [value, owner]
    return params


def _retire(pool: _Pool, worker: _Worker) -> None:
    """A worker whose invocation failed is not reused."""
    pool.count -= 1
    worker.instance.close()
    pool.freed.set()


def _release(pool: _Pool, worker: _Worker) -> None:
    pool.idle.append(worker)
    pool.freed.set()


async def _run(mv: World, grate: Cage, pool: _Pool, params: list[int]) -> int:
    try:
        worker = await _worker(mv, grate, pool)
    except GuestError as exc:
        return to_negative_errno(exc, fallback=EIO)  # (ENOMEM: no room for a worker's stack)
    if worker is None:
        return -EIO
    worker.instance.set_global("__stack_pointer", worker.stack_top)
    try:
        (result,) = await run_call(worker.instance, ENTRY, params)
    except BaseException:
        _retire(pool, worker)
        raise
    _release(pool, worker)
    return result


async def _complete(pool: _Pool, worker: _Worker, rest: Awaitable[int]) -> int:
    """Finish an invocation that started inline and had to wait."""
    try:
        result = await rest
    except BaseException:
        _retire(pool, worker)
        raise
    _release(pool, worker)
    return result


def invoke(
    mv: World,
    grate: Cage,
    fn_ptr: int,
    origin: int,
    args: tuple[int, ...],
    owners: tuple[int, ...],
) -> SysResult:
    """Run handler ``fn_ptr`` of ``grate`` for a call from ``origin``: its result now when an
    idle worker runs it without waiting, else an awaitable of it; ``-EIO`` if the grate is dead
    or dying (a handler ended it, a fatal signal) or dies (or traps) first, or if its program
    cannot run that handler (it exec'd a program that is not a grate, or one in which
    ``fn_ptr`` names no handler)."""
    main = grate.instance
    if grate.status is not None or main is None or grate.lifecycle.kill_status is not None:
        return -EIO  # dead, or dying (a handler ended it, or a fatal signal): no new handler
    pool: _Pool | None = grate.grate_workers
    if pool is None or pool.main is not main:
        pool = _pool(mv, grate, main)
    slots = pool.slots
    if not pool.serves or (slots is not None and fn_ptr not in slots):
        return -EIO
    idle = pool.idle
    if not idle:
        params = _params(fn_ptr, origin, args, owners)
        return _shielded(mv, grate, _run(mv, grate, pool, params))
    worker = idle.pop()
    # The stack pointer is at the worker's stack top: set when it was made, and every handler
    # that returned restored it (a worker whose handler did not return is retired).
    try:
        outcome = worker.entry.call_pairs(fn_ptr, origin, args, owners)
    except BaseException as exc:
        _retire(pool, worker)
        return _failed(mv, grate, exc)
    if outcome.__class__ is int:
        idle.append(worker)  # (_release, inline: this is every C grate hop)
        if pool.waiting:
            pool.freed.set()
        return outcome
    return _shielded(mv, grate, _complete(pool, worker, outcome))  # type: ignore[arg-type]


async def _shielded(mv: World, grate: Cage, running: Coroutine[Any, Any, int]) -> int:
    """Run the rest of an invocation in a task of the grate's (a caller killed meanwhile
    leaves the handler to finish)."""
    # Eagerly: the handler's parked wait must register before this turn ends (wasm/eager.py).
    task = eager_task(running, name=f"grate-{grate.cage_id}-worker")
    if isinstance(task, asyncio.Task):
        grate.tasks.add(task)
        task.add_done_callback(grate.tasks.discard)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if task.cancelled() and (current is None or not current.cancelling()):
            return -EIO  # the grate died under the call
        raise
    except BaseException as exc:
        return _failed(mv, grate, exc)


def _failed(mv: World, grate: Cage, exc: BaseException) -> int:
    """What a failed invocation means for the grate; the caller's result (``-EIO``)."""
    if isinstance(exc, WasmTrap):
        _crashed(mv, grate, exc)  # the grate's crash is the caller's EIO
    elif isinstance(exc, CageExit):  # the handler ended the grate (exit_group)
        grate.terminate(exc.status)
    elif isinstance(exc, Exception):
        log.error("grate %d: internal error in a handler", grate.cage_id, exc_info=exc)
    else:
        raise exc
    return -EIO


def _crashed(mv: World, grate: Cage, trap: WasmTrap) -> None:
    """A handler trapped: that is the grate's crash, as a trap in any thread of a cage ends the
    cage (``runtime/threads.py``). The grate dies with the trap's signal (its other workers are
    cancelled and their callers get ``EIO``; later calls into it get ``EIO`` at once). Letting it
    serve on is not safe: the trapped worker may have held a libc lock (stdio, malloc) that no
    one will release, and the next handler to take it would hang its caller."""
    mv.report(
        f"grate {grate.cage_id} ({grate.name}) crashed in a handler: {trap.report(grate.name)}"
    )
    grate.terminate(trap_signal(trap))
