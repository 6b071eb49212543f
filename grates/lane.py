"""A *lane*: a side stack of Python grates that a clamping grate sends some calls through.

Theory of operation
-------------------
A lane is a 3i id with a routing table and no process. When the clamping grate (``namespace``,
``tee``) is attached, the lane gets a copy of the clamping grate's own table — what lies *below*
it — and the lane's grates are attached onto the lane innermost first, exactly as grates stack
on a cage. A call sent into the lane is a ``threei_call`` made by the lane on behalf of the
calling cage: it reaches the lane's outermost grate, whose forwards continue down the lane and
then onward below the clamping grate. While the call enters the lane, the lane has authority over
the caller (the call is in flight through it). Lanes nest: a lane's grate may itself clamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lind_async.grate import Call, Forward, Grate
from lind_async.runtime import threei_calls

if TYPE_CHECKING:
    from lind_async.runtime.microvisor import Microvisor


class Lane:
    __slots__ = ("grates", "lane_id", "microvisor")

    def __init__(self, grates: Sequence[Grate]) -> None:
        self.grates = list(grates)
        self.lane_id: int | None = None
        self.microvisor: Microvisor | None = None

    def build(self, mv: Microvisor, below: int) -> None:
        """Create the lane (once) over ``below``'s table: what calls reach after the lane."""
        if self.lane_id is not None:
            return
        lane_id = mv.new_id()
        mv.threei.add_cage(lane_id)
        mv.threei.copy_table(below, lane_id)
        for grate in reversed(self.grates):
            grate.attach(mv, lane_id)
        self.lane_id, self.microvisor = lane_id, mv

    def send(self, call: Call, *, sink: int | None = None) -> Forward:
        """Send ``call`` (as made by its caller) through the lane; ``await`` the result."""
        mv, lane_id = self.microvisor, self.lane_id
        assert mv is not None and lane_id is not None, "the lane is not built"
        mv.in_flight.enter(lane_id, call.caller)
        try:
            value = threei_calls.threei_call(
                mv, lane_id, call.number, call.caller, call.args, call.owners
            )
        except Exception as err:  # GuestError: the call failed before it started
            errno = getattr(err, "errno", None)
            if errno is None:
                raise
            value = -errno
        finally:
            mv.in_flight.leave(lane_id, call.caller)
        return Forward(call, value, None)
