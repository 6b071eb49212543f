"""passthrough: a Python grate that forwards every call unchanged (``--grate passthrough``).

It routes every number a catch-all grate sees (RawPOSIX's table and Linux's names) to itself and
passes each call on as it came: the program behaves exactly as without it. The test suites run
their programs under it to check that interposition itself changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable

from lind_async.threei.python_grates import Call, Grate


class PassThrough(Grate):
    name = "passthrough"

    def syscall(self, call: Call) -> int | Awaitable[int]:
        return call.forward()
