"""``tee`` — duplicate every call into a second stack of grates and reconcile the results.

    python -m lind_async run --grate 'tee:strace' app.wasm            # observe without changing
    python -m lind_async run --grate 'tee:seccomp:policy.txt' app.wasm  # audit a policy

``tee:GRATE[+GRATE…]``: each call first goes onward as usual (the *primary* path, whose result
the cage gets). Then the same call is replayed through the *secondary* stack (a lane, see
``lane.py``); at the bottom of that stack a sink answers with the primary's result instead
of executing anything again, so no call ever takes effect twice. If the secondary stack ends with
a different result (a policy it would have enforced, say), the disagreement is reported on stderr
and counted in :attr:`Tee.disagreements`. Process calls (fork, clone, execve, exit, exit_group,
vfork) are forwarded once and not replayed: they cannot be duplicated.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lind_async.abi import syscalls as nr
from lind_async.grates.lane import Lane
from lind_async.grates.wasm_member import is_wasm_spec
from lind_async.threei.python_grates import Call, Grate, all_numbers, load_grate

if TYPE_CHECKING:
    from lind_async.runtime.world import World

PROCESS_CALLS = frozenset(
    {nr.SYS_fork, nr.SYS_vfork, nr.SYS_clone, nr.SYS_execve, nr.SYS_exit, nr.SYS_exit_group}
)


class _Sink(Grate):
    """The bottom of the secondary stack: answers each call with the primary's result."""

    name = "tee-sink"

    def __init__(self) -> None:
        self.answers: dict[int, list[int]] = {}  # caller -> pending primary results

    def numbers(self) -> Iterable[int]:
        return all_numbers()

    def syscall(self, call: Call) -> int:
        pending = self.answers.get(call.caller)
        return pending.pop() if pending else 0


class Tee(Grate):
    name = "tee"

    def __init__(self, secondary: Iterable[Grate]) -> None:
        self.sink = _Sink()
        self.lane = Lane(list(secondary))
        self.disagreements = 0
        self._sink_id: int | None = None

    @classmethod
    def from_arg(cls, arg: str | None) -> Grate:
        if not arg:
            raise ValueError("tee: expected GRATE[+GRATE…]")
        specs = [spec for spec in arg.split("+") if spec]
        for spec in specs:
            if is_wasm_spec(spec):  # its own system calls would reach the sink, not the host
                raise ValueError(f"tee: {spec}: only Python grates can be teed into")
        return cls([load_grate(spec) for spec in specs])

    def numbers(self) -> Iterable[int]:
        return all_numbers()

    def attach(self, mv: World, cage_id: int) -> int:
        grate_id = super().attach(mv, cage_id)
        if self._sink_id is None:
            # The lane's floor is the sink: a private table whose every number goes to it.
            floor = mv.new_id()
            mv.threei.add_cage(floor)
            self.sink.attach(mv, floor)
            self._sink_id = floor
            self.lane.build(mv, floor)
        return grate_id

    async def syscall(self, call: Call) -> int:
        primary = await call.forward()
        if call.number in PROCESS_CALLS:
            return primary
        self.sink.answers.setdefault(call.caller, []).append(primary)
        secondary = await self.lane.send(call)
        pending = self.sink.answers.get(call.caller)
        if pending and pending[-1] == primary:
            pending.pop()  # the secondary stack did not reach the sink (it answered itself)
        if secondary != primary:
            self.disagreements += 1
            print(
                f"[tee] cage {call.caller} {call.name}: primary {primary}, secondary {secondary}",
                file=sys.stderr,
                flush=True,
            )
        return primary
