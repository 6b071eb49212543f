"""Python grates: interpose on cages' system calls with plain Python.

Theory of operation
-------------------
A :class:`Grate` is a 3i handler that lives in the microvisor's process instead of in a cage. It
has a 3i id and a routing table of its own (like a wasm grate) but no memory, process or fibers.

*Loading* (:meth:`Grate.attach`): the grate gets an id (``mv.new_id()``), a table that is a copy
of the cage's table at that moment (so forwarding reaches whatever was below: another grate or
RawPOSIX), and the cage's table routes the grate's numbers to it. Attaching grates innermost
first builds a stack; ``mv.spawn(..., grates=[outer, inner])`` and ``run --grate`` do exactly
that. Forked children inherit the routes (fork copies tables), exec keeps them.

*Handlers*: methods named ``sys_<linux name>`` or marked ``@handles(SYS_x, "name", …)``; a
grate that overrides :meth:`Grate.syscall` handles every call (``strace``). A handler takes a
:class:`Call` and returns the call's result (an ``int``; negative is ``-errno``), raises
:class:`GrateError`, or forwards with ``await call.forward(...)``. It may be ``async def`` or a
plain function.

*Running a handler* (:meth:`Grate.handle`, called by the hop, ``threei/route.py``): the call is
*in flight* through the grate while the handler runs (which gives the grate authority over the
calling cage). The handler is started synchronously, inside the caller's own host call; an
``async`` handler is stepped once, eagerly, so one whose forwards complete at once (most calls)
finishes with no task, no suspension and the calling thread's identity intact. Only when it
really waits is the rest handed to the caller as an awaitable (the hop releases the in-flight
count when it ends), which suspends that caller alone: many cages can be inside one grate at
once.

*Forwarding* (:meth:`Call.forward`) sends the call (the same or changed number, arguments and
owners) through the **grate's own** table: to the grate below, or to RawPOSIX executed as the
target cage. When nothing is routed below and every argument belongs to the target, RawPOSIX is
called on the target directly — exactly what the cage would have got without the grate.

*Buffers the grate provides* (``forward(buffers={i: data})``) are placed in a scratch mapping of
the **target cage's** memory (its vmmap, freed when the forwarded call ends) and argument ``i``
points there. Rejected alternative: memory owned by the grate's Python side — every layer below
(a wasm grate reading it with ``copy_data_between_cages``, RawPOSIX's composite memory) would
need a kind of owner that is not a cage, and authority rules for it. A scratch area in the target
is an ordinary pointer of an ordinary cage and works through any stack. A ``bytearray`` buffer is
copied back when the call ends (output buffers).

*Process-level effects*: an ``exit``/``execve`` (or a thread's exit) forwarded for the caller is
caught and raised into the caller's fiber when the handler has returned — at once when the
handler ran on that fiber, else through the caller's ``deferred`` slot (see threei_calls).
:meth:`Call.kill` ends the caller the same way (seccomp's ``kill``).

Limits: after an ``async`` handler has truly suspended, its forwards run outside the caller's
host call, so thread-specific calls (``gettid``, a thread's ``exit``) then act as the main thread.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import logging
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, EIO, ESRCH, GuestError
from lind_async.abi.flags import PATH_MAX, PROT_READ, PROT_WRITE
from lind_async.core.proctable import killed
from lind_async.core.vmmap import page_up
from lind_async.memory import GuestMemory, pointer
from lind_async.rawposix import table as rawposix
from lind_async.rawposix.kernel import CageExit, ExecImage, ThreadExit
from lind_async.threei import calls as threei_calls
from lind_async.threei.route import hop
from lind_async.wasm import fiber
from lind_async.wasm.eager import Resume

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.cage import Cage
    from lind_async.runtime.world import World
    from lind_async.threei.tables import Route

__all__ = [
    "BUILTIN_GRATES",
    "Call",
    "Forward",
    "Grate",
    "GrateError",
    "handles",
    "load_grate",
    "syscall_number",
]

# What a forwarded call may end with instead of returning (they belong to the caller's fiber).
_EFFECTS = (CageExit, ExecImage, ThreadExit)
_BY_NAME: dict[str, int] = {name: number for number, name in nr.NAMES.items()}
_Coroutine = types.CoroutineType
_F = TypeVar("_F", bound=Callable[..., Any])
log = logging.getLogger("lind_async.threei.python_grates")


class GrateError(GuestError):
    """A handler's verdict: the call fails and the caller sees ``-errno``."""


def syscall_number(call: int | str) -> int:
    """A call number from a number or a Linux name (``"openat"``, ``"SYS_openat"``)."""
    if isinstance(call, int):
        return call
    name = call.removeprefix("SYS_")
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown system call {call!r}") from None


def handles(*calls: int | str) -> Callable[[_F], _F]:
    """Mark a method as the grate's handler for ``calls`` (numbers or names)."""
    numbers = tuple(syscall_number(c) for c in calls)

    def mark(fn: _F) -> _F:
        fn.__lind_handles__ = getattr(fn, "__lind_handles__", ()) + numbers  # type: ignore[attr-defined]
        return fn

    return mark


def all_numbers() -> frozenset[int]:
    """Every call number a catch-all grate registers: RawPOSIX's table and Linux's names."""
    return frozenset(rawposix.load()) | frozenset(nr.NAMES)


class Forward:
    """A forwarded call: ``await`` it for the result (it may already be complete)."""

    __slots__ = ("_call", "_scratch", "_value")

    def __init__(self, call: Call, value: SysResult, scratch: _Scratch | None) -> None:
        self._call = call
        self._value = value
        self._scratch = scratch
        if scratch is not None and value.__class__ is int:
            self._release()

    @property
    def result(self) -> int | None:
        """The result if the call has completed without waiting, else None."""
        return self._value if isinstance(self._value, int) else None

    def __await__(self) -> Generator[Any, Any, int]:
        value = self._value
        if isinstance(value, int):
            return value
        try:
            result = int((yield from value.__await__()))
        except _EFFECTS as effect:
            self._call.effect = effect
            result = 0
        except GuestError as err:
            result = -err.errno
        finally:
            self._value = 0
            self._release()
        self._value = result
        return result

    def _release(self) -> None:
        scratch, self._scratch = self._scratch, None
        if scratch is not None:
            scratch.release()


class _Scratch:
    """Grate-provided buffers in a temporary mapping of the target cage's memory."""

    __slots__ = ("addr", "cage", "offsets", "outputs", "size")

    def __init__(self, cage: Cage, buffers: Mapping[int, bytes | bytearray]) -> None:
        offsets: dict[int, int] = {}
        total = 0
        for i, data in buffers.items():
            offsets[i] = total
            total += (len(data) + 15) & ~15
        self.cage = cage
        self.size = page_up(max(total, 1))
        self.addr = cage.vm.map_anywhere(self.size, PROT_READ | PROT_WRITE)
        self.outputs: list[tuple[bytearray, int]] = []
        for i, data in buffers.items():
            cage.mem.write(self.addr + offsets[i], data)
            if isinstance(data, bytearray):
                self.outputs.append((data, self.addr + offsets[i]))
        self.offsets = {i: self.addr + at for i, at in offsets.items()}

    def release(self) -> None:
        cage = self.cage
        if cage.status is not None:
            return  # the address space is gone
        for data, addr in self.outputs:
            data[:] = cage.mem.read(addr, len(data))
        cage.mem.fill(self.addr, self.size)  # nothing of the grate's stays behind
        cage.vm.unmap(self.addr, self.size)

class Call:
    """One interposed system call as a handler sees it.

    ``caller`` is the originating cage, ``args`` the six raw 64-bit slots and ``owners`` the
    cage each argument belongs to (whose memory a pointer is in). Argument indexes start at 0,
    as in seccomp: for ``openat(dirfd, path, flags, mode)`` the path is ``call.path(1)``.
    """

    __slots__ = ("args", "effect", "grate", "mv", "number", "origin", "owners")

    def __init__(
        self,
        grate: Grate,
        mv: World,
        origin: Cage,
        number: builtins.int,
        args: tuple[builtins.int, ...],
        owners: tuple[builtins.int, ...],
    ) -> None:
        self.grate = grate
        self.mv = mv
        self.origin = origin
        self.number = number
        self.args = args
        self.owners = owners
        # An exit/exec/thread exit a forward produced: raised into the caller afterwards.
        self.effect: BaseException | None = None

    @property
    def caller(self) -> builtins.int:
        """The calling cage's id."""
        return self.origin.cage_id

    @property
    def name(self) -> str:
        """The call's Linux name (RawPOSIX's table), e.g. ``"openat"``."""
        return rawposix.name_of(self.number)

    def __repr__(self) -> str:
        return f"<Call {self.name} from cage {self.caller} args={self.args}>"

    # -- typed arguments ----------
    def int(self, i: builtins.int) -> builtins.int:
        """Argument ``i`` as a C ``int`` (signed 32-bit)."""
        value = self.args[i] & 0xFFFFFFFF
        return value - (1 << 32) if value & 0x80000000 else value

    def fd(self, i: builtins.int) -> builtins.int:
        """Argument ``i`` as a file descriptor (``AT_FDCWD`` is -100)."""
        return self.int(i)

    def long(self, i: builtins.int) -> builtins.int:
        """Argument ``i`` as a signed 64-bit value."""
        value = self.args[i] & 0xFFFFFFFFFFFFFFFF
        return value - (1 << 64) if value >> 63 else value

    def u64(self, i: builtins.int) -> builtins.int:
        """Argument ``i`` as an unsigned 64-bit value."""
        return self.args[i] & 0xFFFFFFFFFFFFFFFF

    def ptr(self, i: builtins.int) -> builtins.int:
        """Argument ``i`` as a guest pointer (an offset into its owner's memory)."""
        return pointer(self.args[i])

    def memory(self, i: builtins.int) -> GuestMemory:
        """The (bounds-checked) memory argument ``i`` points into: its owner's."""
        owner = self.owners[i] or self.caller
        cage = self.mv.cages.get(owner)
        if cage is None or cage.status is not None:
            raise GrateError(ESRCH)
        return cage.mem

    def path(self, i: builtins.int, max_len: builtins.int = PATH_MAX) -> bytes:
        """The NUL-terminated string argument ``i`` points to (``EFAULT``/``ENAMETOOLONG``)."""
        return self.memory(i).read_cstring(self.ptr(i), max_len)

    def read(self, i: builtins.int, n: builtins.int, offset: builtins.int = 0) -> bytes:
        """``n`` bytes at argument ``i`` (+ ``offset``) in its owner's memory."""
        return self.memory(i).read(self.ptr(i) + offset, n)

    def write(self, i: builtins.int, data: bytes | bytearray, offset: builtins.int = 0) -> None:
        """Write ``data`` at argument ``i`` (+ ``offset``) in its owner's memory."""
        self.memory(i).write(self.ptr(i) + offset, data)

    # -- outcomes ----------
    def forward(
        self,
        args: Sequence[builtins.int] | None = None,
        *,
        number: builtins.int | str | None = None,
        target: builtins.int | None = None,
        owners: Sequence[builtins.int] | None = None,
        buffers: Mapping[builtins.int, bytes | bytearray] | None = None,
    ) -> Forward:
        """Pass the call down through this grate's own table; ``await`` the result.

        ``args``/``number``/``owners`` replace the call's (up to six arguments, padded with 0);
        ``target`` makes the call on behalf of another cage (the grate needs authority over it,
        else ``-EPERM``). ``buffers={i: data}`` places ``data`` in a scratch area of the target's
        memory and points argument ``i`` at it (a ``bytearray`` is copied back afterwards):
        ``call.forward(buffers={1: b"/new/path\\0"})`` opens another file.
        """
        if (
            args is None and number is None and target is None and owners is None and not buffers
        ):  # unchanged (the common case): no copies, no padding
            try:
                origin, grate = self.origin, self.grate
                if (
                    origin.status is None
                    and self.owners is origin.own_owners
                    and (grate.grate_id, origin.cage_id) in self.mv.in_flight.counts
                ):  # the hot path: the caller is alive, the call in flight (authority) and
                    # every argument the caller's: RawPOSIX on it, or the Python grate below
                    route = grate._table.get(self.number)
                    if route is None:
                        a1, a2, a3, a4, a5, a6 = self.args
                        value = rawposix.dispatch(origin, self.number, a1, a2, a3, a4, a5, a6)
                        return Forward(self, value, None)
                    value = hop(self.mv, origin, route, self.number, self.args, self.owners, True)
                    return Forward(self, value, None)
                value = grate.threei_call(self.number, origin.cage_id, self.args, self.owners)
            except GuestError as err:
                value = -err.errno
            except _EFFECTS as effect:
                self.effect = effect
                value = 0
            return Forward(self, value, None)
        values = list(self.args if args is None else args)
        if len(values) > 6:
            raise ValueError("a system call has at most six arguments")
        values += [0] * (6 - len(values))
        target_id = self.caller if target is None else target
        owner_ids = list(self.owners if owners is None else owners)
        owner_ids += [target_id] * (6 - len(owner_ids))
        call_number = self.number if number is None else syscall_number(number)
        scratch: _Scratch | None = None
        try:
            if buffers:
                cage = self.mv.cages.get(target_id)
                if cage is None or cage.status is not None:
                    raise GrateError(ESRCH)
                self.mv.authority.require_name(self.grate.id, target_id)
                scratch = _Scratch(cage, buffers)
                for i, addr in scratch.offsets.items():
                    values[i], owner_ids[i] = addr, target_id
            value = self.grate.threei_call(call_number, target_id, values, owner_ids)
        except GuestError as err:
            value = -err.errno
        except _EFFECTS as effect:
            self.effect = effect
            value = 0
        return Forward(self, value, scratch)

    def kill(self, signo: builtins.int) -> builtins.int:
        """End the calling cage as if killed by ``signo`` (e.g. ``SIGSYS``) once the handler
        returns; return the value this gives (``return call.kill(SIGSYS)``)."""
        self.effect = CageExit(killed(signo))
        return 0


class Grate:
    """Base class of Python grates; see the module docstring.

    Subclasses define handlers ``sys_<name>(self, call)`` or ``@handles(...)`` methods, or
    override :meth:`syscall` to see every call. ``ARGS`` of ``--grate NAME:ARGS`` reach
    :meth:`from_arg`, which by default calls ``cls(ARGS)`` (or ``cls()`` without ARGS).
    """

    name: ClassVar[str] = ""  # the registry name (``--grate NAME``)
    _handlers: ClassVar[dict[int, str]] = {}
    grate_id: int | None = None
    microvisor: World | None = None
    # Bound handlers by call number and the catch-all, made at the first attach (dispatch's).
    _bound: dict[int, Callable[[Call], Any]]
    _catch_all: Callable[[Call], Any]
    _table: Mapping[int, Route]  # this grate's own routing table (live)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[int, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if attr.startswith("sys_") and attr[4:] in _BY_NAME:
                    table[_BY_NAME[attr[4:]]] = attr
                for number in getattr(value, "__lind_handles__", ()):
                    table[number] = attr
        cls._handlers = table

    @classmethod
    def from_arg(cls, arg: str | None) -> Grate:
        """Build the grate from the text after ``NAME:`` on the command line."""
        if arg is None:
            return cls()
        return cls(arg)  # type: ignore[call-arg]

    @property
    def id(self) -> int:
        """This grate's 3i id (once attached)."""
        if self.grate_id is None:
            raise RuntimeError("the grate is not attached to a cage")
        return self.grate_id

    # -- what a subclass may override ----------
    def numbers(self) -> Iterable[int]:
        """The call numbers routed to this grate when it is attached."""
        if type(self).syscall is not Grate.syscall:
            return all_numbers()
        return self._handlers.keys()

    def syscall(self, call: Call) -> int | Awaitable[int]:
        """The handler for calls without a specific one: forward unchanged."""
        return call.forward()

    def on_cage_exit(self, cage_id: int, status: int) -> None:
        """Cage ``cage_id`` died abnormally (wait ``status``) with calls routed to or in flight
        through this grate (a *harsh exit*: ``World._notify_harsh_exit``)."""

    def on_signal(self, cage_id: int, signo: int, sender: int) -> None:
        """An observer: signal ``signo`` was sent to cage ``cage_id`` of this grate's microvisor
        (any cage: filter by id) by cage ``sender`` (0: the runtime itself), before its
        disposition applies — so also a signal it ignores. Called only when overridden; it must
        not block or raise."""

    # -- loading ----------
    def attach(self, mv: World, cage_id: int) -> int:
        """Interpose on cage ``cage_id``'s calls; returns the grate's 3i id.

        The first attach gives the grate its id and a copy of the cage's current table (what is
        below it); later attaches (other cages of the same microvisor) only add routes.
        """
        threei = mv.threei
        if not threei.has_cage(cage_id) or cage_id in mv.python_grates:
            raise ValueError(f"no cage {cage_id} to attach a grate to")
        if self.microvisor is None:
            grate_id = mv.new_id()
            threei.add_cage(grate_id)
            threei.copy_table(cage_id, grate_id)
            mv.python_grates[grate_id] = self
            self.grate_id, self.microvisor = grate_id, mv
            self._bound = {n: getattr(self, attr) for n, attr in self._handlers.items()}
            self._table = threei.table(grate_id)
            self._catch_all = self.syscall
            if type(self).on_signal is not Grate.on_signal:
                mv.signal_observers.append(self.on_signal)
        elif self.microvisor is not mv:
            raise ValueError("a grate serves one microvisor")
        grate_id = self.id
        for number in self.numbers():
            threei.register(cage_id, number, grate_id, number)
        return grate_id

    def detach(self, mv: World, cage_id: int) -> None:
        """Stop interposing on ``cage_id``: its routes to this grate go back to what is below."""
        grate_id = self.id
        for number, route in list(mv.threei.routes(cage_id)):
            if route.handler_cage != grate_id:
                continue
            below = mv.threei.route(grate_id, number)
            if below is None:
                mv.threei.deregister(cage_id, number)
            else:
                mv.threei.register(cage_id, number, below.handler_cage, below.handler)

    # -- 3i as this grate ----------
    def threei_call(
        self,
        number: int,
        target: int,
        args: Sequence[int],
        owners: Sequence[int],
    ) -> SysResult:
        """``threei_call`` made by this grate: ``number`` through its own table, on behalf of
        ``target``, each argument owned by the cage in ``owners`` (``-EPERM`` without authority,
        as :mod:`threei_calls` rules). Raises :class:`GuestError`."""
        mv, grate_id = self.microvisor, self.id
        assert mv is not None
        if len(args) != 6 or len(owners) != 6:
            raise GrateError(EINVAL)
        cage = mv.cages.get(target)
        if (
            cage is not None
            and cage.status is None
            and mv.threei.route(grate_id, number) is None
            and (owners == _SAME_OWNER[target] or not set(owners).difference((0, target)))
        ):  # direct: RawPOSIX on the target itself
            mv.authority.require_name(grate_id, target)
            a1, a2, a3, a4, a5, a6 = args if args.__class__ is tuple else map(int, args)
            return rawposix.dispatch(cage, number, a1, a2, a3, a4, a5, a6)
        return threei_calls.threei_call(mv, grate_id, number, target, tuple(args), tuple(owners))

    # -- the microvisor's side (PythonGrateEndpoint) ----------
    def handle(
        self,
        mv: World,
        origin: Cage,
        route: Route,
        number: int,
        args: tuple[int, ...],
        owners: tuple[int, ...],
    ) -> SysResult:
        """Run the handler for a call ``origin`` made (see the module docstring); the hop around
        it (``threei/route.py``) keeps the in-flight count.

        The hot path of every Python hop: the handler is the bound method looked up at attach
        time, and a coroutine is stepped with ``send``; only one that really waits is handed
        back, as an awaitable.
        """
        call = Call(self, mv, origin, number, args, owners)
        try:
            result: Any = self._bound.get(number, self._catch_all)(call)
            kind = result.__class__
            if kind is int:
                pass
            elif kind is _Coroutine:
                try:
                    first = result.send(None)
                except StopIteration as done:
                    result = done.value
                    if result.__class__ is not int:
                        result = _as_result(result)
                else:
                    return self._finish(call, result, first)
            elif kind is Forward and result._value.__class__ is int:
                result = result._value
            else:
                steps = result.__await__()
                try:
                    first = steps.send(None)
                except StopIteration as done:
                    result = _as_result(done.value)
                else:
                    return self._finish(call, steps, first)
        except GuestError as err:
            result = -err.errno
        except _EFFECTS as effect:
            call.effect = effect
            result = 0
        except Exception:
            result = self._failed(call)
        if call.effect is None and origin.deferred is None:
            return result  # type: ignore[no-any-return]
        return _settle_now(call, result)

    async def _finish(
        self, call: Call, steps: Generator[Any, Any, Any] | Coroutine[Any, Any, Any], first: Any
    ) -> int:
        try:
            result = _as_result(await Resume(steps, first))
        except GuestError as err:
            result = -err.errno
        except _EFFECTS as effect:
            call.effect = effect
            result = 0
        except Exception:
            result = self._failed(call)
        if call.effect is not None:
            call.origin.deferred = call.effect  # the hop raises it into the caller (route.py)
        return result

    def _failed(self, call: Call) -> int:
        """A bug in the grate: logged; the caller gets ``EIO`` (as for a trapping wasm grate)."""
        label = self.name or type(self).__name__
        log.exception("grate %s: handler for %s from cage %d failed", label, call.name, call.caller)
        call.mv.report(f"grate {label}: handler for {call.name} failed (the call gets EIO)")
        return -EIO


def _as_result(value: object) -> int:
    if isinstance(value, int):
        return value
    raise TypeError(f"a grate handler must return an int, not {type(value).__name__}")


def _settle_now(call: Call, result: int) -> SysResult:
    """The handler finished synchronously: apply a pending exit/exec to the caller."""
    origin = call.origin
    effect = call.effect
    if effect is None and origin.deferred is None:
        return result  # the common case: nothing to apply
    instance = fiber.current_instance()
    on_callers_fiber = instance is not None and instance.data is origin
    if effect is None and on_callers_fiber and origin.deferred is not None:
        effect, origin.deferred = origin.deferred, None  # left by a grate below
    if effect is None:
        return result
    if on_callers_fiber:
        raise effect
    origin.deferred = effect  # whoever returns to the caller raises it (route.py)
    return 0


class _SameOwner(dict[int, tuple[int, ...]]):
    """``(cage,) * 6`` per cage id, made once: the owners of a call forwarded unchanged."""

    def __missing__(self, cage: int) -> tuple[int, ...]:
        if len(self) > 4096:
            self.clear()
        owners = self[cage] = (cage,) * 6
        return owners


_SAME_OWNER = _SameOwner()


# ------------------------------------------------------------------------------ the registry
BUILTIN_GRATES: dict[str, str] = {
    "strace": "lind_async.grates.strace:Strace",
    "seccomp": "lind_async.grates.seccomp:Seccomp",
    "readonly": "lind_async.grates.readonly:ReadOnly",
    "namespace": "lind_async.grates.namespace:Namespace",
    "memfs": "lind_async.grates.memfs:MemFS",
    "tee": "lind_async.grates.tee:Tee",
    "passthrough": "lind_async.grates.passthrough:PassThrough",
}


ROUTING_CALLS = frozenset({nr.SYS_register_handler, nr.SYS_copy_handler_table_to_cage})


def reroutes(call: Call, governed: Iterable[int]) -> bool:
    """Would this 3i call change where any of the ``governed`` numbers go (a
    ``register_handler`` of one of them, or a whole ``copy_handler_table_to_cage``)? A policy
    grate refuses such calls from the cages it confines (on top of the runtime's own rule that a
    confined cage cannot take its grate's routes away, ``threei/authority.py``)."""
    if call.number == nr.SYS_copy_handler_table_to_cage:
        return True
    return call.number == nr.SYS_register_handler and call.int(1) in set(governed)


def load_grate(spec: str) -> Grate:
    """A grate from a command-line spec: ``NAME[:ARGS]`` (a built-in, :data:`BUILTIN_GRATES`),
    ``path/to/module.py:Class[:ARGS]`` or ``package.module:Class[:ARGS]``."""
    head, _, rest = spec.partition(":")
    if head in BUILTIN_GRATES:
        cls = _import_class(BUILTIN_GRATES[head])
        return cls.from_arg(rest if _ else None)
    class_name, sep, arg = rest.partition(":")
    if not class_name:
        known = ", ".join(sorted(BUILTIN_GRATES))
        raise ValueError(f"unknown grate {head!r} (built-in: {known}; or FILE.py:Class)")
    found: object
    if head.endswith(".py"):
        found = getattr(_import_file(Path(head)), class_name, None)
    else:
        found = _import_class(f"{head}:{class_name}")
    if not (isinstance(found, type) and issubclass(found, Grate)):
        raise ValueError(f"{head}:{class_name} is not a lind_async.Grate subclass")
    return found.from_arg(arg if sep else None)


def _import_class(target: str) -> type[Grate]:
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Grate)):
        raise ValueError(f"{target} is not a lind_async.Grate subclass")
    return cls


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    name = f"_lind_user_grate_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
