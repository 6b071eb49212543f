"""The one RawPOSIX system-call table, and the dispatcher that turns errors into ``-errno``.

Theory of operation
-------------------
Each entry maps a Linux x86_64 number to a name, a handler, a support level and a note (gVisor's
``linux64.go`` shape). Every number in :data:`lind_async.abi.syscalls.NAMES` has an entry: calls
RawPOSIX does not implement fail with a fixed errno (a :class:`Fixed` handler) and the note says
why, so tracing, the support matrix and error messages read one table.

The table is declarative and lives with the code: each family module (``io``, ``fs``,
``sockets``, ``signal``, ...) declares ``ROWS: list[Row]`` beside its handlers, and
``unsupported.py`` declares the fixed-errno rows, grouped by theme. :func:`load` imports the
families named in ``_FAMILIES``, checks each row (one
per known number; unsupported rows, and only they, have a fixed errno and a reason) and builds
the number → handler map :func:`dispatch` reads. A microvisor starts with :func:`load_lazy`
instead: every call's handler is a stand-in that imports its family (named by the generated
``table_index.py``) on the family's first call and puts the family's handlers in place, so a
cage's start imports only the families it calls (a start-up cost; dispatch is the same dict
lookup either way). The index is only a hint: a call it places wrongly, or does not know, builds
the whole table (:func:`load`), as does every reader of :data:`TABLE`. 3i's own operations
(1001-1003) need 3i's tables, which RawPOSIX does not import: the layer above adds their rows
with :func:`extend` (``threei/ops.py``); until it does, they fail with ``ENOSYS``.

Handlers share one signature — ``handler(cage, a1, a2, a3, a4, a5, a6)`` with the raw 64-bit
slots — and return either an ``int`` (done now) or an awaitable of one (the cage must wait).
:func:`dispatch` is the only place a :class:`GuestError` or host ``OSError`` becomes a negative
errno; any other exception propagates and kills only the calling cage.
"""

from __future__ import annotations

import enum
import importlib
import textwrap
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import ENOSYS, GuestError, errno_name, to_negative_errno

if TYPE_CHECKING:
    from lind_async.rawposix.kernel import CageView

SysResult = int | Awaitable[int]
Handler = Callable[["CageView", int, int, int, int, int, int], SysResult]
Row = tuple[int, Handler, "Support", str]  # number, handler, support level, note


class Support(enum.Enum):
    FULL = "full"
    PARTIAL = "partial"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class Syscall:
    number: int
    name: str
    handler: Handler
    support: Support
    note: str = ""

    @property
    def errno(self) -> int | None:
        """The errno an unsupported call always fails with (None for an implemented one)."""
        handler = self.handler
        return handler.errno if isinstance(handler, Fixed) else None

    @property
    def detail(self) -> str:
        """The note as the matrix shows it: ``ENOSYS: not supported: io_uring`` when fixed."""
        errno = self.errno
        return self.note if errno is None else f"{errno_name(errno)}: {self.note}"


class Fixed:
    """The handler of a call RawPOSIX does not implement: it always fails with one errno."""

    __slots__ = ("_result", "errno")

    def __init__(self, errno: int) -> None:
        self.errno = errno
        self._result = -errno

    def __call__(self, cage: CageView, *_: int) -> int:
        return self._result


# Families that declare their own rows (``ROWS: list[Row]``), one module each; ``unsupported``
# holds the calls that fail with a fixed errno, grouped by theme.
_FAMILIES = (
    "io", "fd", "fs", "fs_meta", "fs_data", "fs_status", "locks", "sockets", "poll", "epoll",
    "eventfd", "timerfd", "signalfd", "mm_file", "sysv_shm", "sysv_sem", "sysv_msg", "exec",
    "creds", "proc", "procinfo", "signal", "time", "misc", "futex", "threads", "unsupported",
)


def _build() -> dict[int, Syscall]:
    rows: list[Row] = []
    for family in _FAMILIES:
        rows += importlib.import_module(f"lind_async.rawposix.{family}").ROWS
    table: dict[int, Syscall] = {}
    for number, handler, support, note in rows:
        _check(table, number, handler, support, note)
        table[number] = Syscall(number, nr.NAMES[number], handler, support, note)
    return table


def _check(table: dict[int, Syscall], number: int, handler: Handler, support: Support,
           note: str) -> None:
    """A row's invariants: one row per known number; fixed-errno rows say why."""
    if number not in nr.NAMES:
        raise ValueError(f"syscall table: {number} is not a Linux x86_64 or 3i call number")
    if number in table:
        raise ValueError(f"syscall table: two rows for {nr.NAMES[number]} ({number})")
    if (support is Support.UNSUPPORTED) != isinstance(handler, Fixed):
        raise ValueError(f"syscall table: {nr.NAMES[number]}: unsupported rows, and only they, "
                         "fail with a fixed errno")
    if support is Support.UNSUPPORTED and not note:
        raise ValueError(f"syscall table: {nr.NAMES[number]} is unsupported without a reason")


TABLE: dict[int, Syscall] = {}
_HANDLERS: dict[int, Handler] = {}

# Rows the layers above add (3i's own operations). Their handlers take the process layer's own
# cage class (they need 3i's tables): every such cage is a CageView, not every CageView one.
ExtensionRow = tuple[int, Callable[..., SysResult], Support, str]
_EXTENSIONS: list[ExtensionRow] = []


def extend(rows: list[ExtensionRow]) -> None:
    """Add rows from a layer above RawPOSIX, replacing the placeholder rows for their numbers:
    3i's operations are system calls a grate interposes on like any other."""
    for number, *_ in rows:
        if number not in EXTENDED:
            raise ValueError(f"syscall table: {nr.NAMES.get(number, number)} is RawPOSIX's")
    _EXTENSIONS.extend(rows)
    if TABLE:
        _add(rows)
    elif _HANDLERS:  # started lazily (load_lazy)
        _HANDLERS.update({row[0]: row[1] for row in rows})


def _add(rows: list[ExtensionRow]) -> None:
    for number, handler, support, note in rows:
        TABLE[number] = Syscall(number, nr.NAMES[number], handler, support, note)
        _HANDLERS[number] = handler


EXTENDED = frozenset({nr.SYS_register_handler, nr.SYS_copy_data_between_cages,
                      nr.SYS_copy_handler_table_to_cage})
"""The numbers whose rows the layers above give (until then: ``ENOSYS``)."""


def load() -> dict[int, Syscall]:
    """Build the table once."""
    if not TABLE:
        TABLE.update(_build())
        _HANDLERS.update({n: s.handler for n, s in TABLE.items()})
        _add(_EXTENSIONS)
    return TABLE


def load_lazy() -> None:
    """Make every call dispatchable without importing any family yet: each call's handler is
    a :class:`_Lazy` stand-in until its family's first call (a no-op once the table is built)."""
    if TABLE or _HANDLERS:
        return
    from lind_async.rawposix.table_index import FAMILY_ROWS

    family_of = {n: family for family, numbers in FAMILY_ROWS.items() for n in numbers}
    _HANDLERS.update({n: _Lazy(family_of.get(n), n) for n in nr.NAMES})
    _HANDLERS.update({row[0]: row[1] for row in _EXTENSIONS})


class _Lazy:
    """The handler of ``number`` until its family (``None``: unknown to the index) is imported:
    the first call of any of the family's numbers puts all its handlers in place."""

    __slots__ = ("family", "number")

    def __init__(self, family: str | None, number: int) -> None:
        self.family = family
        self.number = number

    def __call__(self, cage: CageView, a1: int, a2: int, a3: int, a4: int, a5: int,
                 a6: int) -> SysResult:
        if self.family is not None and not TABLE:
            module = importlib.import_module(f"lind_async.rawposix.{self.family}")
            _HANDLERS.update({row[0]: row[1] for row in module.ROWS})
            _HANDLERS.update({row[0]: row[1] for row in _EXTENSIONS})  # 3i's rows stay
        handler = _HANDLERS.get(self.number)
        if handler is None or isinstance(handler, _Lazy):  # a stale index: the whole table
            load()
            handler = _HANDLERS.get(self.number)
        if handler is None:
            return -ENOSYS
        return handler(cage, a1, a2, a3, a4, a5, a6)


def has_row(number: int) -> bool:
    """Whether RawPOSIX has a row for ``number`` (``number in TABLE`` once it is built)."""
    return number in TABLE or number in _HANDLERS


def dispatch(
    cage: CageView, number: int, a1: int, a2: int, a3: int, a4: int, a5: int, a6: int
) -> SysResult:
    """Run RawPOSIX's handler for ``number``: an ``int`` now, or an awaitable of one."""
    handler = _HANDLERS.get(number)
    if handler is None:
        return -ENOSYS
    try:
        result = handler(cage, a1, a2, a3, a4, a5, a6)
    except (GuestError, OSError) as exc:
        return to_negative_errno(exc)
    if result.__class__ is int:
        return result
    return finish(result)  # type: ignore[arg-type]


def handlers() -> Mapping[int, Handler]:
    """Number → handler as :func:`dispatch` reads it: the same live map, kept by the syscall
    entry (``runtime/syscall_entry.py``) that inlines ``dispatch`` for a cage without routes."""
    return _HANDLERS


async def finish(pending: Awaitable[int]) -> int:
    """Await a handler's awaitable, its ``GuestError``/``OSError`` becoming ``-errno``."""
    try:
        return await pending
    except (GuestError, OSError) as exc:
        return to_negative_errno(exc)


def name_of(number: int) -> str:
    entry = load().get(number)
    return entry.name if entry else nr.NAMES.get(number, f"syscall_{number}")


def index_source() -> str:
    """The text of ``table_index.py`` for the families as they are (``python -m
    lind_async.rawposix.table`` writes it; tests/unit/test_syscall_table.py checks it)."""
    lines = [
        '"""The family module declaring each call\'s row: the hint ``table.load_lazy`` uses to',
        "import only the families a cage calls. Generated by ``python -m",
        'lind_async.rawposix.table``; tests/unit/test_syscall_table.py checks it is current."""',
        "",
        "FAMILY_ROWS: dict[str, tuple[int, ...]] = {",
    ]
    for family in _FAMILIES:
        numbers = sorted(row[0] for row in importlib.import_module(
            f"lind_async.rawposix.{family}").ROWS)
        text = ", ".join(map(str, numbers)) + ("," if len(numbers) == 1 else "")
        chunks = textwrap.wrap(text, 90)
        lines.append(f'    "{family}": (')
        lines += [f"        {chunk}" for chunk in chunks]
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import pathlib

    pathlib.Path(__file__).with_name("table_index.py").write_text(index_source())
