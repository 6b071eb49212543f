"""The Python grate API's calls: :class:`Call` (one intercepted system call as a handler sees
it), :class:`Forward` (a call passed on), handler registration (:func:`handles`) and verdicts
(:class:`GrateError`).

Theory of operation
-------------------
A :class:`Call` is what a handler gets: the calling cage, the number, the six argument slots and
their owners. *Forwarding* (:meth:`Call.forward`) sends the call — the same or changed number,
arguments and owners — through the **grate's own** table: to the grate below (the hop,
``threei/route.py``), or to RawPOSIX executed as the target cage (``threei/calls.py``). When
nothing is routed below and every argument belongs to the target, RawPOSIX is called on the
target directly: exactly what the cage would have got without the grate. :class:`Forward` is
awaitable and may already hold its result, so a handler whose forwards complete at once never
suspends.

*Buffers the grate provides* (``forward(buffers={i: data})``) are placed in a scratch mapping of
the **target cage's** memory (its vmmap, freed when the forwarded call ends) and argument ``i``
points there. Rejected alternative: memory owned by the grate's Python side — every layer below
(a wasm grate reading it with ``copy_data_between_cages``, RawPOSIX's composite memory) would
need a kind of owner that is not a cage, and authority rules for it. A scratch area in the target
is an ordinary pointer of an ordinary cage and works through any stack. A ``bytearray`` buffer is
copied back when the call ends (output buffers).

An ``exit``/``execve`` a forward runs for the caller is caught (``EFFECTS``) and raised into the
caller's fiber by the hop.

With the native glue (``threei/native.py``), ``Call.forward`` is a method of
``native/grate_python.c`` whose unchanged forward does what the Python method's hot path does
(the same checks, then the hop into a Python grate below or RawPOSIX); the Python method below
serves every other call of it, and every call without the glue.
"""

from __future__ import annotations

import builtins
import types
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import ESRCH, GuestError, to_negative_errno
from lind_async.abi.flags import PATH_MAX, PROT_READ, PROT_WRITE
from lind_async.core.proctable import killed
from lind_async.core.vmmap import page_up
from lind_async.memory import GuestMemory, pointer
from lind_async.rawposix import table as rawposix
from lind_async.rawposix.kernel import CageExit, ExecImage, ThreadExit
from lind_async.wasm import fiber

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.cage import Cage
    from lind_async.runtime.world import World
    from lind_async.threei.python_grates import Grate

# What a forwarded call may end with instead of returning (they belong to the caller's fiber).
EFFECTS = (CageExit, ExecImage, ThreadExit)
_new = object.__new__
BY_NAME: dict[str, int] = {name: number for number, name in nr.NAMES.items()}  # openat -> 257
_F = TypeVar("_F", bound=Callable[..., Any])


class GrateError(GuestError):
    """A handler's verdict: the call fails and the caller sees ``-errno``."""


def syscall_number(call: int | str) -> int:
    """A call number from a number or a Linux name (``"openat"``, ``"SYS_openat"``)."""
    if isinstance(call, int):
        return call
    name = call.removeprefix("SYS_")
    try:
        return BY_NAME[name]
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

    # (Call.forward's hot path makes one without __init__, setting every slot itself.)
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
        except EFFECTS as effect:
            self._call.effect = effect
            result = 0
        except GuestError as err:
            result = to_negative_errno(err)
        finally:
            self._value = 0
            self._release()
        self._value = result
        return result

    def _release(self) -> None:
        scratch, self._scratch = self._scratch, None
        if scratch is not None:
            scratch.release()


def _forward_rest(
    call: Call, below: Grate, counts: dict[Any, int], key: Any, origin: Cage, got: Any
) -> Forward:
    """The native ``Call.forward`` (``native/grate_python.c``) ran the hop into the Python grate
    ``below`` and it did not simply give an int: finished here as the Python method would."""
    try:
        value = _route.resume(below, counts, key, origin, got)
    except BaseException as exc:  # (anything but an errno or an effect propagates from there)
        return _forward_failed(call, exc)
    return Forward(call, value, None)


def _forward_failed(call: Call, exc: BaseException) -> Forward:
    """The native ``Call.forward``'s hop raised ``exc``: as the Python method's ``except``s."""
    try:
        raise exc
    except GuestError as err:
        value = to_negative_errno(err)
    except EFFECTS as effect:
        call.effect = effect
        value = 0
    return Forward(call, value, None)


def use_native_forward(make: Callable[..., Any]) -> None:
    """Give :class:`Call` the native ``forward`` (``native/grate_python.c``, wired by
    ``threei/native.py``): ``make(Call, slow, rest, failed, dispatch)`` is its descriptor
    (None: not wired); the Python method stays its fallback for every other case."""
    slow = Call.__dict__["forward"]
    if isinstance(slow, types.FunctionType):  # (not already the native one)
        made = make(Call, slow, _forward_rest, _forward_failed, rawposix.dispatch)
        if made is not None:
            Call.forward = made  # type: ignore[method-assign]


def use_native_await(make: Callable[[type, Callable[[Forward], Any]], Any]) -> None:
    """Give :class:`Forward` the native ``__await__`` (``native/grate_entry.c``, wired by
    ``threei/native.py``): a result already there is awaited without a generator; anything
    else goes to the Python one, kept as the fallback."""
    slow = Forward.__dict__["__await__"]
    if isinstance(slow, types.FunctionType):  # (not already the native one)
        Forward.__await__ = make(Forward, slow)  # type: ignore[method-assign]


# The native Forward makers (wired by ``threei/native.py``): ``_make_forward(call, value, scratch)``
# is a Forward with FORWARD_SLOTS set, in that order. None: made slot by slot. ``_ready(None,
# value, None)`` is a Forward of an int result, from a small pool of Forwards nobody else holds
# (they hold nothing but an int: a result needs no call).
FORWARD_SLOTS = ("_call", "_value", "_scratch")
_make_forward: Callable[..., Forward] | None = None
_ready: Callable[..., Forward] | None = None


def use_forward_maker(
    make: Callable[..., Forward] | None, ready: Callable[..., Forward] | None = None
) -> None:
    global _make_forward, _ready
    _make_forward, _ready = make, ready


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

    # (The hop, threei/route.py, makes a Call without __init__, setting every slot itself: a slot
    # added here must be set there too.)
    __slots__ = ("_key", "args", "effect", "grate", "mv", "number", "origin", "owners")

    def __init__(
        self,
        grate: Grate,
        mv: World,
        origin: Cage,
        number: builtins.int,
        args: tuple[builtins.int, ...],
        owners: tuple[builtins.int, ...],
        key: tuple[builtins.int, builtins.int] | None = None,
    ) -> None:
        self.grate = grate
        self.mv = mv
        self.origin = origin
        self.number = number
        self.args = args
        self.owners = owners
        # An exit/exec/thread exit a forward produced: raised into the caller afterwards.
        self.effect: BaseException | None = None
        # (grate, caller): the key of the call's in-flight count while the hop holds it for this
        # call (threei/route.py), None once released; None sends a forward the general way,
        # through every check.
        self._key = key

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
                    and self._key is not None
                ):  # the hot path: the caller is alive, the call in flight (the hop holds its
                    # count: authority) and every argument the caller's: RawPOSIX on it, or the
                    # Python grate below
                    number = self.number
                    route = grate._table.get(number)
                    if route is None:
                        a1, a2, a3, a4, a5, a6 = self.args
                        value = rawposix.dispatch(origin, number, a1, a2, a3, a4, a5, a6)
                    else:
                        value = _route.hop(
                            self.mv, origin, route, number, self.args, self.owners, True
                        )
                    # Forward(self, value, None) without the __init__ frame (every Python hop)
                    if value.__class__ is int and _ready is not None:
                        return _ready(None, value, None)
                    make = _make_forward
                    if make is not None:
                        return make(self, value, None)
                    done = _new(Forward)
                    done._call = self
                    done._value = value
                    done._scratch = None
                    return done
                value = grate.threei_call(self.number, origin.cage_id, self.args, self.owners)
            except GuestError as err:
                value = to_negative_errno(err)
            except EFFECTS as effect:
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
            value = to_negative_errno(err)
        except EFFECTS as effect:
            self.effect = effect
            value = 0
        return Forward(self, value, scratch)

    def kill(self, signo: builtins.int) -> builtins.int:
        """End the calling cage as if killed by ``signo`` (e.g. ``SIGSYS``) once the handler
        returns; return the value this gives (``return call.kill(SIGSYS)``)."""
        self.effect = CageExit(killed(signo))
        return 0


def as_result(value: object) -> int:
    if isinstance(value, int):
        return value
    raise TypeError(f"a grate handler must return an int, not {type(value).__name__}")


def settle_now(call: Call, result: int) -> SysResult:
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


# The hop (route.py) runs handlers with the classes above; Call.forward uses the hop. Imported last
# so either module may be imported first.
from lind_async.threei import route as _route  # noqa: E402
