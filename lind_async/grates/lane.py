"""A *lane*: a side stack of grates that a clamping grate sends some calls through.

Theory of operation
-------------------
A lane is a 3i id with a routing table and no process. When the clamping grate (``namespace``,
``tee``) is attached, the lane gets a copy of the clamping grate's own table — what lies *below*
it — and the lane's grates are attached onto the lane innermost first, exactly as grates stack
on a cage. A call sent into the lane is a ``threei_call`` made by the lane on behalf of the
calling cage: it reaches the lane's outermost grate, whose forwards continue down the lane and
then onward below the clamping grate. While the call enters the lane, the lane has authority over
the caller (the call is in flight through it). Lanes nest: a lane's grate may itself clamp.

Members are Python grates or C grate programs (:class:`.wasm_member.WasmMember`). A C
grate registers its handlers some time after it starts, so its routes are put in place by
:meth:`Lane.relink`, which recomputes one number's chain through the whole lane — innermost
member first, each member's table pointing at the nearest member below that handles the number —
as if every member had been attached in order with its handlers known. Calls wait until the C
members are ready (``EIO`` if one ended first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from lind_async.abi.errno import EIO, GuestError, to_negative_errno
from lind_async.grates.wasm_member import CAUGHT, WasmMember, is_wasm_spec
from lind_async.threei import calls as threei_calls
from lind_async.threei.python_grates import Call, Forward, Grate, load_grate
from lind_async.threei.route import pass_through, passed
from lind_async.threei.tables import Route

if TYPE_CHECKING:
    from lind_async.rawposix.table import SysResult
    from lind_async.runtime.world import World

Member = Grate | WasmMember


@runtime_checkable
class Clampable(Protocol):
    """A grate that wants to know the prefix it is clamped under (``memfs`` presents it as a
    directory)."""

    def clamp_at(self, prefix: bytes) -> None: ...


def load_member(spec: str) -> Member:
    """A lane member from a spec: ``FILE.wasm[,ARG…]`` / ``FILE.c[,ARG…]`` (a C grate program)
    or any ``--grate`` spec (a Python grate)."""
    return WasmMember.from_spec(spec) if is_wasm_spec(spec) else load_grate(spec)


class Lane:
    __slots__ = ("_base", "_handled", "grates", "lane_id", "microvisor")

    def __init__(self, grates: Sequence[Member]) -> None:
        self.grates = list(grates)  # outermost first
        self.lane_id: int | None = None
        self.microvisor: World | None = None
        self._base: dict[int, Route] = {}  # the lane's table before any member: what is below
        self._handled: dict[int, frozenset[int]] = {}  # Python member id -> its numbers

    def build(self, mv: World, below: int) -> None:
        """Create the lane (once) over ``below``'s table: what calls reach after the lane."""
        if self.lane_id is not None:
            return
        lane_id = mv.new_id()
        mv.threei.add_cage(lane_id)
        mv.threei.copy_table(below, lane_id)
        self._base = dict(mv.threei.table(lane_id))
        self.lane_id, self.microvisor = lane_id, mv
        for member in reversed(self.grates):
            if isinstance(member, WasmMember):
                member.start(mv, self, lane_id)
            else:
                self._handled[member.attach(mv, lane_id)] = frozenset(member.numbers())

    def clamp_at(self, prefix: bytes) -> None:
        """Tell the members that care that only calls on paths under ``prefix`` reach them."""
        for member in self.grates:
            if isinstance(member, Clampable):
                member.clamp_at(prefix)

    def relink(self, number: int) -> None:
        """Route ``number`` through the lane's members as they handle it now."""
        mv, lane_id = self.microvisor, self.lane_id
        assert mv is not None and lane_id is not None, "the lane is not built"
        below = self._base.get(number)
        for member in reversed(self.grates):
            if isinstance(member, WasmMember):
                if member.cage is None:
                    continue
                if number not in CAUGHT:  # the member's own table keeps its catcher
                    _set_route(mv, member.cage_id, number, below)
                fn = member.routes.get(number)
                if fn:
                    below = Route(member.cage_id, fn)
            else:
                _set_route(mv, member.id, number, below)
                if number in self._handled[member.id]:
                    below = Route(member.id, number)
        _set_route(mv, lane_id, number, below)

    def send(self, call: Call) -> Forward:
        """Send ``call`` (as made by its caller) through the lane; ``await`` the result."""
        for member in self.grates:
            if isinstance(member, WasmMember) and member.ready() is not True:
                return Forward(call, self._send_when_ready(call), None)
        return Forward(call, self._send_now(call), None)

    async def _send_when_ready(self, call: Call) -> int:
        for member in self.grates:
            if isinstance(member, WasmMember) and not await member.wait_ready():
                return -EIO  # it ended before it could serve
        result = self._send_now(call)
        return result if isinstance(result, int) else await result

    def _send_now(self, call: Call) -> SysResult:
        mv, lane_id = self.microvisor, self.lane_id
        assert mv is not None and lane_id is not None, "the lane is not built"
        key = pass_through(mv, lane_id, call.caller)
        try:
            return threei_calls.threei_call(
                mv, lane_id, call.number, call.caller, call.args, call.owners
            )
        except (GuestError, OSError) as err:  # the call failed before it started
            return to_negative_errno(err)
        finally:
            passed(mv, key)


def _set_route(mv: World, owner: int, number: int, route: Route | None) -> None:
    if route is None:
        mv.threei.deregister(owner, number)
    else:
        mv.threei.register(owner, number, route.handler_cage, route.handler)
