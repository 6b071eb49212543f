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

*Running a handler* (by the hop, ``threei/route.py``, which calls the bound method): the call is
*in flight* through the grate while the handler runs (which gives the grate authority over the
calling cage). The handler is started synchronously, inside the caller's own host call; an
``async`` handler is stepped once, eagerly, so one whose forwards complete at once (most calls)
finishes with no task, no suspension and the calling thread's identity intact. Only when it
really waits is the rest handed to the caller as an awaitable (the hop releases the in-flight
count when it ends), which suspends that caller alone: many cages can be inside one grate at
once.

*Forwarding* and the buffers a grate provides: :mod:`lind_async.threei.grate_calls`.

*Process-level effects*: an ``exit``/``execve`` (or a thread's exit) forwarded for the caller is
caught and raised into the caller's fiber when the handler has returned — at once when the
handler ran on that fiber, else through the caller's ``deferred`` slot (``threei/route.py``).
:meth:`Call.kill` ends the caller the same way (seccomp's ``kill``).

Limits: after an ``async`` handler has truly suspended, its forwards run outside the caller's
host call, so thread-specific calls (``gettid``, a thread's ``exit``) then act as the main thread.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, EIO, GuestError, to_negative_errno
from lind_async.rawposix import table as rawposix
from lind_async.threei import calls as threei_calls
from lind_async.threei.grate_calls import (
    BY_NAME,
    EFFECTS,
    Call,
    Forward,
    GrateError,
    all_numbers,
    as_result,
    handles,
    syscall_number,
)
from lind_async.wasm.eager import Resume

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.world import World
    from lind_async.threei.tables import Route

__all__ = [  # the Python grate API (its calls are grate_calls.py's)
    "BUILTIN_GRATES",
    "Call",
    "Forward",
    "Grate",
    "GrateError",
    "all_numbers",
    "handles",
    "load_grate",
    "syscall_number",
]

_Coroutine = types.CoroutineType
log = logging.getLogger("lind_async.threei.python_grates")


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
    # Bound handlers by call number, the catch-all for any other number (made at the first
    # attach; the hop, threei/route.py, calls ``_bound[number]``).
    _bound: _Handlers
    _catch_all: Callable[[Call], Any]
    _table: Mapping[int, Route]  # this grate's own routing table (live)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[int, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if attr.startswith("sys_") and attr[4:] in BY_NAME:
                    table[BY_NAME[attr[4:]]] = attr
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
            self._catch_all = self.syscall
            self._bound = _Handlers(self._catch_all)
            self._bound.update((n, getattr(self, attr)) for n, attr in self._handlers.items())
            self._table = threei.table(grate_id)
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
    async def _finish(
        self, call: Call, steps: Generator[Any, Any, Any] | Coroutine[Any, Any, Any], first: Any
    ) -> int:
        try:
            result = as_result(await Resume(steps, first))
        except GuestError as err:
            result = to_negative_errno(err)
        except EFFECTS as effect:
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


class _Handlers(dict[int, Callable[[Call], Any]]):
    """A grate's bound handlers by call number; any other number gets the catch-all."""

    __slots__ = ("catch_all",)

    def __init__(self, catch_all: Callable[[Call], Any]) -> None:
        super().__init__()
        self.catch_all = catch_all

    def __missing__(self, number: int) -> Callable[[Call], Any]:
        return self.catch_all


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
