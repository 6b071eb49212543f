"""Per-cage resource limits, and the family of processes a top-level cage starts.

Theory of operation
-------------------
A :class:`Family` is a top-level cage plus every process it forks (and they fork), alive now: the
microvisor adds a cage when it starts it and drops it when it exits. A fork child joins its
parent's family. The family carries the :class:`Limits` the embedder gave the top-level cage;
every member inherits them, as Linux processes inherit their rlimits:

- ``memory``: bytes of linear memory a cage may use. Its memory is grown to this size (not to the
  module's declared maximum) and its ``brk``/``mmap`` space ends there, so ``malloc`` fails with
  ``ENOMEM`` beyond it and an access past it traps. Checked per process;
- ``cpu_time``: seconds of run time per process. Each preemption (one epoch tick while the cage
  was running: ``time_slice`` seconds) is charged to the cage; past the budget it is killed by
  ``SIGXCPU``. Ticks land at fixed intervals while wasm runs, so the charge estimates run time with
  a granularity of one slice;
- ``fds``: ``RLIMIT_NOFILE`` of each process (soft and hard): ``open`` beyond it fails with
  ``EMFILE``. Without it a cage gets Linux's usual 1024 soft / 4096 hard (``core/fdtable.py``);
  ``setrlimit`` may lower the soft limit and raise it up to the hard one, and lower the hard one
  for good. Host fds are a shared budget on top of that: whatever the cages' limits, the host's
  last few fds stay with the microvisor (``core/hostfds.py``: ``ENFILE`` near the end);
- ``children``: how many processes the family may have alive besides its first one; a ``fork``,
  ``vfork`` or ``clone`` beyond that fails with ``EAGAIN``. Threads are not processes and do not
  count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lind_async.runtime.cage import Cage

WASM_PAGE = 65536


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits for a cage and the processes it starts (``None``: no limit)."""

    memory: int | None = None
    """Bytes of linear memory per process (rounded down to whole 64 KiB wasm pages)."""
    cpu_time: float | None = None
    """Seconds of run time per process; then the process is killed by ``SIGXCPU``."""
    fds: int | None = None
    """Open descriptors per process (``RLIMIT_NOFILE``); at least 3 (stdin, stdout, stderr)."""
    children: int | None = None
    """Processes the cage's family may have alive besides the cage itself."""

    def __post_init__(self) -> None:
        if self.memory is not None and self.memory < WASM_PAGE:
            raise ValueError(f"Limits.memory must be at least {WASM_PAGE} bytes")
        if self.cpu_time is not None and not self.cpu_time > 0:
            raise ValueError("Limits.cpu_time must be positive")
        if self.fds is not None and self.fds < 3:
            raise ValueError("Limits.fds must be at least 3 (stdin, stdout and stderr)")
        if self.children is not None and self.children < 0:
            raise ValueError("Limits.children must not be negative")

    @property
    def memory_pages(self) -> int | None:
        return None if self.memory is None else self.memory // WASM_PAGE

    @classmethod
    def parse(cls, specs: Iterable[str]) -> Limits:
        """Limits from ``NAME=VALUE`` strings (``run --limit``): ``fds=N``, ``children=N``,
        ``memory=SIZE`` (bytes, or with a ``K``/``M``/``G`` suffix: KiB, MiB, GiB) and
        ``cpu_time=SECONDS``. ``ValueError`` names what is wrong."""
        values: dict[str, int | float] = {}
        for spec in specs:
            name, sep, text = spec.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in _PARSERS:
                known = ", ".join(sorted(_PARSERS))
                raise ValueError(f"{spec!r}: expected NAME=VALUE with NAME one of {known}")
            try:
                values[name] = _PARSERS[name](text.strip())
            except ValueError:
                raise ValueError(f"{spec!r}: bad value for {name}") from None
        return cls(**values)  # type: ignore[arg-type]


def _size(text: str) -> int:
    scale = _SUFFIXES.get(text[-1:].upper(), 1)
    return int(text[:-1] if scale != 1 else text) * scale


_SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_PARSERS: dict[str, Callable[[str], int | float]] = {
    "fds": int,
    "children": int,
    "memory": _size,
    "cpu_time": float,
}


NO_LIMITS = Limits()


@dataclass(eq=False, slots=True)
class Family:
    """A top-level cage and its live descendants, sharing one set of limits."""

    limits: Limits = NO_LIMITS
    members: set[Cage] = field(default_factory=set)

    def may_add_process(self) -> bool:
        """Whether one more process fits under ``limits.children``."""
        children = self.limits.children
        return children is None or len(self.members) < children + 1
