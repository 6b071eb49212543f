"""A wasm (C) grate as a member of a lane: started by the clamping grate, with its handlers
registered on the lane instead of on a program of its own.

Theory of operation
-------------------
A C grate (``imfs.wasm [--] PROGRAM``, ``cc --grate``) forks; the child registers the grate's
handlers on itself (``register_handler(getpid(), n, grate, fn)``) and execs PROGRAM, which then
runs with them. To put such a grate inside a lane (``namespace:/tmp=imfs.c``), the lane
starts it as a top-level cage whose 3i table is a copy of the lane's — so its forwards continue
below it, down the lane and then below the clamping grate — with a small Python grate, the
*catcher*, interposed on ``register_handler`` and ``execve`` for the grate's own family (the
grate cage and the cages it forks):

- a ``register_handler`` made by the family is not applied to the cage it names: the route is
  recorded on the member and the lane relinks that number (:meth:`Lane.relink`), which puts the
  grate at its place in the lane as if its handlers had been there from the start;
- the family's ``execve`` (the child about to become PROGRAM) marks the member *ready* and then
  parks that child until the microvisor ends it: PROGRAM never runs, the grate keeps serving
  (its ``waitpid`` keeps waiting).

Calls into the lane wait until every wasm member is ready; when a member's cage ends before that
(a bad module, a crash, a usage error) they fail with ``EIO``, as calls into a dead grate do.
Calls the grate forwards on another cage's behalf pass the catcher unchanged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EINVAL, EPERM
from lind_async.grates import c_source
from lind_async.threei.python_grates import Call, Grate, GrateError, handles
from lind_async.threei.tables import MAX_CALLNUM

if TYPE_CHECKING:
    from lind_async.grates.lane import Lane
    from lind_async.runtime.cage import Cage
    from lind_async.runtime.world import World

WASM_SUFFIXES = (".wasm", ".cwasm", ".c")
CAUGHT = frozenset({nr.SYS_register_handler, nr.SYS_execve})
PLACEHOLDER = "(lane)"  # the PROGRAM argument the grate is started with (it is never run)


def is_wasm_spec(spec: str) -> bool:
    """Whether a lane member spec names a wasm grate program (``FILE.wasm[,ARG…]``)."""
    return spec.partition(",")[0].endswith(WASM_SUFFIXES)


class WasmMember:
    """A C grate program in a lane (see the module docstring)."""

    def __init__(self, program: Path, args: list[str]) -> None:
        self.program = program
        self.args = args
        self.routes: dict[int, int] = {}  # call number -> handler (fn pointer) it registered
        self.cage: Cage | None = None
        self.lane: Lane | None = None
        self._outcome: asyncio.Future[bool] | None = None
        self._watch: asyncio.Task[None] | None = None

    @classmethod
    def from_spec(cls, spec: str) -> WasmMember:
        """``FILE.wasm[,ARG…]`` (a host path; a ``.c`` file is compiled with ``cc --grate``). A
        bare name of a shipped C grate (``imfs.c``) that is no file here names the shipped one."""
        path, *args = spec.split(",")
        program = Path(path)
        if not program.is_file() and program.name == path and c_source(path).is_file():
            program = c_source(path)
        if not program.is_file():
            raise ValueError(f"{program}: no such file")
        if program.suffix == ".c":
            from lind_async.toolchain.cc import compile_cached

            program = compile_cached(program, flags=["--grate"])
        return cls(program, args)

    @property
    def cage_id(self) -> int:
        if self.cage is None:
            raise RuntimeError("the wasm grate has not been started")
        return self.cage.cage_id

    def start(self, mv: World, lane: Lane, lane_id: int) -> None:
        """Start the grate over the lane's current table (what lies below it)."""
        self.lane = lane
        loop = asyncio.get_running_loop()
        self._outcome = loop.create_future()
        argv = [self.program.name, *self.args, "--", PLACEHOLDER]
        self.cage = mv.spawn(self.program, argv, routes_from=lane_id, grates=[_Catcher(self)])
        self._watch = loop.create_task(self._until_exit(self.cage))

    async def _until_exit(self, cage: Cage) -> None:
        await cage.exited.wait()
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(False)  # it ended before it was ready

    def ready(self) -> bool | None:
        """True once every handler is registered, False if the grate ended before, else None."""
        outcome = self._outcome
        return outcome.result() if outcome is not None and outcome.done() else None

    async def wait_ready(self) -> bool:
        assert self._outcome is not None, "the wasm grate has not been started"
        return await asyncio.shield(self._outcome)

    def in_family(self, mv: World, cage_id: int) -> bool:
        return mv.authority.in_family(self.cage_id, cage_id)

    def registered(self, number: int, handler_cage: int, fn: int) -> None:
        if handler_cage != self.cage_id:
            raise GrateError(EPERM)  # a lane member serves with its own handlers only
        if not 0 <= number < MAX_CALLNUM:
            raise GrateError(EINVAL)
        if fn:
            self.routes[number] = fn
        else:
            self.routes.pop(number, None)
        assert self.lane is not None
        self.lane.relink(number)

    def became_ready(self) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(True)


class _Catcher(Grate):
    """Interposed on the member's family: takes its registrations and its exec."""

    name = "lane-catcher"

    def __init__(self, member: WasmMember) -> None:
        self.member = member

    @handles(nr.SYS_register_handler)
    def register(self, call: Call) -> Any:
        mv = call.mv
        if not self.member.in_family(mv, call.caller):
            return call.forward()  # forwarded for another cage: not the member's own
        self.member.registered(call.int(1), call.int(2), call.u64(3))
        return 0

    @handles(nr.SYS_execve)
    async def execve(self, call: Call) -> int:
        if not self.member.in_family(call.mv, call.caller):
            return await call.forward()
        self.member.became_ready()
        # Park the would-be PROGRAM until the microvisor ends it (its task is cancelled).
        await asyncio.get_running_loop().create_future()
        return 0
