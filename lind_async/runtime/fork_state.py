"""A cage's fork in progress: the record ``runtime/fork.py`` keeps on the cage (``Cage.forking``).

Theory of operation
-------------------
A fork (``runtime/fork.py``) unwinds the forking instance's stack with asyncify and finishes
outside the wasm call, so two facts must wait on the cage between the unwind and the rewind:

- ``after_unwind``: the hook ``lind.fork`` arms for the *main* thread once its stack has unwound;
  ``Cage._run_program`` takes it (:meth:`ForkState.take_hook`) when the entry call returns and runs
  it, which makes the child and rewinds the parent (a secondary thread keeps its own hook on its
  ``Thread``, ``runtime/threads.py``);
- ``point``: while a grate decides an interposed ``fork``, where the stack unwound (instance,
  entry, signal mask), for RawPOSIX's ``fork`` (forwarded by the grate) to make the child from;
  taken once (:meth:`ForkState.take_point`): one child per ``fork()`` call.

Only ``runtime/fork.py`` arms and sets them; the cage and RawPOSIX's fork only take them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

ForkPoint = tuple[Any, tuple[str, list[int]], int]  # (instance, entry, signal mask)


class ForkState:
    __slots__ = ("after_unwind", "point")

    def __init__(self) -> None:
        self.after_unwind: Callable[[], Awaitable[None]] | None = None
        self.point: ForkPoint | None = None

    def take_hook(self) -> Callable[[], Awaitable[None]] | None:
        hook, self.after_unwind = self.after_unwind, None
        return hook

    def take_point(self) -> ForkPoint | None:
        point, self.point = self.point, None
        return point
